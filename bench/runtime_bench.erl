%% The BEAM side of bench/runtime.sh: the same measurements as
%% crates/node/examples/runtime_bench.rs. Run on node rtbe1; it starts
%% its remote-call partner as rtbe2 through `peer`-less spawn of a second
%% erl by the shell script (rtbe2 runs server/0).
-module(runtime_bench).
-export([main/1, server/0, init/1, handle_call/3, handle_cast/2]).

-define(SENDS, 2000000).
-define(CALLS, 100000).
-define(REMOTE_CALLS, 20000).

init([]) -> {ok, nostate}.
handle_call(_Req, _From, S) -> {reply, ok, S}.
handle_cast(_Msg, S) -> {noreply, S}.

server() ->
    {ok, _} = gen_server:start({local, srv}, ?MODULE, [], []),
    io:format("ready~n"),
    receive stop -> ok end.

result(K, V) -> io:format("result ~s ~p~n", [K, V]).

%% Waits (50 ms steps, at most Tries of them) until at most Live
%% processes run.
wait_count(_, 0) -> ok;
wait_count(Live, Tries) ->
    case erlang:system_info(process_count) > Live of
        true -> timer:sleep(50), wait_count(Live, Tries - 1);
        false -> ok
    end.

main([NStr, Peer]) ->
    N = list_to_integer(NStr),
    %% Spawn rate and memory per idle process.
    Live = erlang:system_info(process_count),
    M0 = erlang:memory(total),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn(fun() -> receive _ -> ok end end) || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(microsecond),
    timer:sleep(500),
    M1 = erlang:memory(total),
    result("spawn_per_s", round(N / ((T1 - T0) / 1.0e6))),
    result("bytes_per_idle_process", round((M1 - M0) / N)),
    [P ! stop || P <- Pids],
    %% Until every one has exited, as on the nodus side.
    wait_count(Live, 1200),
    timer:sleep(100),
    %% Local send throughput.
    Self = self(),
    Rx = spawn(fun() -> recv(?SENDS), Self ! done end),
    T2 = erlang:monotonic_time(microsecond),
    send(Rx, ?SENDS),
    receive done -> ok end,
    T3 = erlang:monotonic_time(microsecond),
    result("local_send_per_s", round(?SENDS / ((T3 - T2) / 1.0e6))),
    %% Local gen_server calls.
    {ok, Srv} = gen_server:start(?MODULE, [], []),
    {P50, Rate} = calls(Srv, ?CALLS),
    result("local_call_p50_us", P50),
    result("local_calls_per_s", Rate),
    %% Across two nodes.
    PeerNode = list_to_atom(Peer),
    pong = net_adm:ping(PeerNode),
    {RP50, RRate} = calls({srv, PeerNode}, ?REMOTE_CALLS),
    result("remote_call_p50_us", RP50),
    result("remote_calls_per_s", RRate),
    {srv, PeerNode} ! stop,
    halt().

recv(0) -> ok;
recv(K) -> receive _ -> recv(K - 1) end.

send(_, 0) -> ok;
send(P, K) -> P ! {msg, 1}, send(P, K - 1).

calls(To, N) ->
    [gen_server:call(To, ping) || _ <- lists:seq(1, 1000)],
    T0 = erlang:monotonic_time(nanosecond),
    Lat = [begin
               A = erlang:monotonic_time(nanosecond),
               ok = gen_server:call(To, ping),
               erlang:monotonic_time(nanosecond) - A
           end || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(nanosecond),
    Sorted = lists:sort(Lat),
    P50 = lists:nth(N div 2, Sorted) / 1000,
    {round(P50 * 100) / 100, round(N / ((T1 - T0) / 1.0e9))}.
