%% The application `demo` of the mixed distributed-application tests
%% (crates/node/tests/erl_dist_apps.rs): a supervisor with one registered
%% worker; prints "demo started StartType" and "demo stopped". Its .app
%% file is written by the test (`{mod, {nodus_demo, []}}`).
-module(nodus_demo).
-behaviour(application).
-behaviour(supervisor).
-export([start/2, stop/1, init/1, start_worker/0, worker/0]).

start(Type, _Args) ->
    {ok, Pid} = supervisor:start_link({local, demo_sup}, ?MODULE, []),
    io:format("demo started ~p~n", [Type]),
    {ok, Pid}.

stop(_State) ->
    io:format("demo stopped~n"),
    ok.

init([]) ->
    {ok, {#{strategy => one_for_one},
          [#{id => worker, start => {?MODULE, start_worker, []}}]}}.

start_worker() ->
    Pid = spawn_link(?MODULE, worker, []),
    register(demo_worker, Pid),
    {ok, Pid}.

worker() ->
    receive _ -> worker() end.
