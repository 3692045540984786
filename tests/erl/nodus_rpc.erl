%% The erl side of crates/node/tests/erl_rpc.rs: calls into a nodus node
%% with rpc:call/4 and erpc:call/4 and prints one verdict line per check,
%% "ok <name>" or "FAIL <name> <got>".
-module(nodus_rpc).
-export([start/1]).

start([RustS]) ->
    Rust = list_to_atom(RustS),
    true = net_kernel:connect_node(Rust),
    Checks =
        [{node, fun() -> rpc:call(Rust, erlang, node, []) end, fun(R) -> R =:= Rust end},
         {is_alive, fun() -> rpc:call(Rust, erlang, is_alive, []) end, fun(R) -> R =:= true end},
         {nodes, fun() -> erpc:call(Rust, erlang, nodes, []) end, fun(R) -> lists:member(node(), R) end},
         {registered, fun() -> rpc:call(Rust, erlang, registered, []) end, fun(R) -> lists:member(net_kernel, R) end},
         {whereis, fun() -> rpc:call(Rust, erlang, whereis, [net_kernel]) end, fun(R) -> is_pid(R) andalso node(R) =:= Rust end},
         {otp_release, fun() -> rpc:call(Rust, erlang, system_info, [otp_release]) end, fun(R) -> R =:= "25" end},
         {add, fun() -> rpc:call(Rust, demo, add, [1, 2]) end, fun(R) -> R =:= 3 end},
         {erpc_add, fun() -> erpc:call(Rust, demo, add, [40, 2]) end, fun(R) -> R =:= 42 end},
         {error, fun() -> rpc:call(Rust, demo, fail, []) end, fun(R) -> match({badrpc, {'EXIT', {badarith, '_'}}}, R) end},
         {throw, fun() -> catch erpc:call(Rust, demo, throw, []) end, fun(R) -> R =:= thrown end},
         {undef, fun() -> rpc:call(Rust, nomod, nofun, [1]) end, fun(R) -> match({badrpc, {'EXIT', {undef, '_'}}}, R) end},
         {erpc_undef, fun() -> try erpc:call(Rust, nomod, nofun, []) catch error:{exception, undef, _} -> undef end end,
          fun(R) -> R =:= undef end},
         {cast, fun() -> erpc:cast(Rust, demo, add, [1, 1]) end, fun(R) -> R =:= ok end},
         {corpus, fun() -> corpus(Rust) end, fun(R) -> R =:= [] end}],
    lists:foreach(fun({Name, Run, Check}) ->
                          R = (catch Run()),
                          case catch Check(R) of
                              true -> io:format("ok ~p~n", [Name]);
                              _ -> io:format("FAIL ~p ~P~n", [Name, R, 12])
                          end
                  end, Checks),
    io:format("done~n"),
    timer:sleep(600000).

match(Pattern, Term) ->
    case {Pattern, Term} of
        {'_', _} -> true;
        {P, T} when is_tuple(P), is_tuple(T), tuple_size(P) =:= tuple_size(T) ->
            lists:all(fun({A, B}) -> match(A, B) end, lists:zip(tuple_to_list(P), tuple_to_list(T)));
        {P, T} -> P =:= T
    end.

%% term_to_binary and binary_to_term on nodus over the corpus: the terms
%% that do not come back.
corpus(Rust) ->
    [T || T <- nodus_corpus:terms(5, 300),
          not (nodus_corpus:same(binary_to_term(rpc:call(Rust, erlang, term_to_binary, [T])), T)
               andalso nodus_corpus:same(rpc:call(Rust, erlang, binary_to_term, [term_to_binary(T)]), T))].
