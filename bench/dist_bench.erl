%% The BEAM side of bench/dist.sh: the same services and client as
%% crates/node/examples/dist_bench.rs.
%%   erl -name N -setcookie C -run dist_bench server
%%   erl -name N -setcookie C -run dist_bench client PEER
-module(dist_bench).
-export([server/0, client/1]).

-define(SMALL, 200000).
-define(KIB, 50000).
-define(MIB, 200).
-define(RTT, 5000).
%% Untimed round trips before the timed ones (in every client alike).
-define(WARMUP, 1000).

server() ->
    register(sink, spawn(fun() -> sink(0) end)),
    register(echo, spawn(fun echo/0)),
    {ok, _} = gen_server:start({local, srv}, dist_bench_srv, [], []),
    io:format("ready~n").

sink(N) ->
    receive
        {done, From} -> From ! {count, N}, sink(0);
        _ -> sink(N + 1)
    end.

echo() ->
    receive {From, Msg} -> From ! Msg end,
    echo().

client([PeerS]) ->
    Peer = list_to_atom(PeerS),
    pong = net_adm:ping(Peer),
    one_way("small", {hello, 42}, ?SMALL, 0, Peer),
    one_way("1KiB", binary:copy(<<1>>, 1024), ?KIB, 1024, Peer),
    one_way("1MiB", binary:copy(<<1>>, 1 bsl 20), ?MIB, 1 bsl 20, Peer),
    Rtt = [begin
               T0 = erlang:monotonic_time(nanosecond),
               {echo, Peer} ! {self(), I},
               receive I -> ok after 10000 -> exit(timeout) end,
               erlang:monotonic_time(nanosecond) - T0
           end || I <- lists:seq(1, ?WARMUP + ?RTT)],
    pct("rtt", lists:nthtail(?WARMUP, Rtt)),
    Calls = [begin
                 T0 = erlang:monotonic_time(nanosecond),
                 ok = gen_server:call({srv, Peer}, ping),
                 erlang:monotonic_time(nanosecond) - T0
             end || _ <- lists:seq(1, ?WARMUP + ?RTT)],
    pct("call", lists:nthtail(?WARMUP, Calls)),
    halt().

one_way(Label, Msg, N, Bytes, Peer) ->
    T0 = erlang:monotonic_time(nanosecond),
    send_n(N, {sink, Peer}, Msg),
    {sink, Peer} ! {done, self()},
    N = receive {count, C} -> C after 300000 -> exit(timeout) end,
    Secs = (erlang:monotonic_time(nanosecond) - T0) / 1.0e9,
    case Bytes of
        0 -> io:format("result ~s_msgs_per_s ~.1f~n", [Label, N / Secs]);
        _ -> io:format("result ~s_MB_per_s ~.1f~n", [Label, N * Bytes / Secs / 1.0e6])
    end.

send_n(0, _, _) -> ok;
send_n(N, To, Msg) -> To ! Msg, send_n(N - 1, To, Msg).

pct(Label, Ns) ->
    S = lists:sort(Ns),
    L = length(S),
    At = fun(P) -> lists:nth(round((L - 1) * P) + 1, S) / 1000 end,
    io:format("result ~s_p50_us ~.1f~nresult ~s_p99_us ~.1f~n", [Label, At(0.5), Label, At(0.99)]).
