%% The BEAM twin of nodus's `fault_peer` example (crates/node/examples/
%% fault_peer.rs): the same lines on stdout, each with the wall-clock time
%% in milliseconds (see that file). Started by faults/suite.py as
%%   erl -noshell -name NAME -setcookie C [-kernel net_ticktime T]
%%       -pa DIR -s fault_peer start -extra [connect PEER] [stream PEER COUNT]
-module(fault_peer).
-export([start/0]).

say(Fmt, Args) ->
    io:format(Fmt ++ " ~b~n", Args ++ [erlang:system_time(millisecond)]).

start() ->
    spawn(fun watcher/0),
    Sink = spawn(fun() -> sink(1) end),
    register(sink, Sink),
    say("ready ~s", [node()]),
    args(init:get_plain_arguments()).

args(["connect", Peer | Rest]) ->
    P = list_to_atom(Peer),
    spawn(fun() -> reconnect(P) end),
    args(Rest);
args(["stream", Peer, Count | Rest]) ->
    P = list_to_atom(Peer),
    N = list_to_integer(Count),
    spawn(fun() -> stream(P, N) end),
    args(Rest);
args([]) ->
    ok.

watcher() ->
    ok = net_kernel:monitor_nodes(true),
    %% A peer may have connected (through EPMD, as soon as this node
    %% registered) before the subscription: it is up too.
    [say("up ~s", [N]) || N <- nodes()],
    watch().

watch() ->
    receive
        {nodeup, N} -> say("up ~s", [N]);
        {nodedown, N} -> say("down ~s", [N])
    end,
    watch().

sink(Next) ->
    receive
        {seq, I} ->
            I =/= Next andalso say("gap ~b ~b", [Next, I]),
            I rem 10000 =:= 0 andalso say("got ~b", [I]),
            sink(I + 1);
        _ ->
            sink(Next)
    end.

reconnect(P) ->
    lists:member(P, nodes()) orelse net_adm:ping(P),
    timer:sleep(200),
    reconnect(P).

stream(P, N) ->
    case net_adm:ping(P) of
        pong -> ok;
        pang -> timer:sleep(100), stream(P, N)
    end,
    erlang:monitor_node(P, true),
    send(P, 1, N).

send(_P, I, N) when I > N ->
    say("sent ~b", [N]);
send(P, I, N) ->
    receive
        {nodedown, P} -> say("stream-down ~b", [I - 1])
    after 0 ->
        {sink, P} ! {seq, I},
        send(P, I + 1, N)
    end.
