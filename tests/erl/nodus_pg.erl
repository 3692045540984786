%% Helpers for crates/node/tests/erl_pg.rs: members that live until
%% killed, and a view of a scope as sorted {Group, [Pid]} pairs.
-module(nodus_pg).
-export([member/2, view/1, churn/3, remote_view/2]).

%% A new process that joins Group in Scope (once per entry of Groups,
%% so a group listed twice is joined twice) and waits to be killed.
member(Scope, Groups) ->
    Self = self(),
    Pid = spawn(fun() ->
                        [ok = pg:join(Scope, G, self()) || G <- Groups],
                        Self ! {joined, self()},
                        receive stop -> ok end
                end),
    receive {joined, Pid} -> Pid end.

%% Every group of Scope with its sorted members.
view(Scope) ->
    lists:sort([{G, lists:sort(pg:get_members(Scope, G))} || G <- pg:which_groups(Scope)]).

%% The view of Scope on Node, over rpc.
remote_view(Node, Scope) ->
    rpc:call(Node, ?MODULE, view, [Scope]).

%% N random operations on groups g0..g4 of Scope: joins by new or
%% existing processes, leaves, and deaths. Returns the survivors.
churn(Scope, N, Seed) ->
    rand:seed(exsss, {Seed, Seed, Seed}),
    churn(Scope, N, [], 0).

churn(_Scope, 0, Live, _) -> Live;
churn(Scope, N, Live, K) ->
    G = list_to_atom("g" ++ integer_to_list(rand:uniform(5) - 1)),
    Live2 = case {rand:uniform(4), Live} of
                {1, _} -> [member(Scope, [G]) | Live];
                {2, [_ | _]} ->
                    P = lists:nth(rand:uniform(length(Live)), Live),
                    ok = pg:join(Scope, G, P), Live;
                {3, [_ | _]} ->
                    P = lists:nth(rand:uniform(length(Live)), Live),
                    _ = pg:leave(Scope, G, P), Live;
                {4, [_ | _]} ->
                    P = lists:nth(rand:uniform(length(Live)), Live),
                    exit(P, kill), lists:delete(P, Live);
                _ -> [member(Scope, [G]) | Live]
            end,
    churn(Scope, N - 1, Live2, K + 1).
