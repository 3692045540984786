%% Message round trips between an erl node and a nodus node, driven by
%% crates/node/tests/erl_messages.rs.
%%
%%   start(Rust, Seed, N): registers `erl_echo` (answers {From, Msg} with
%%   From ! {echo_reply, Msg}), then sends every corpus term and a 10 MB
%%   binary to {echo, Rust} and checks what comes back; prints
%%   "erl->nodus ok N" or "erl->nodus FAIL ...", then keeps echoing.
-module(nodus_echo).
-export([start/1]).

start([RustS, SeedS, NS]) ->
    Rust = list_to_atom(RustS),
    Echo = spawn(fun echo/0),
    register(erl_echo, Echo),
    io:format("ready~n"),
    Terms = nodus_corpus:terms(list_to_integer(SeedS), list_to_integer(NS))
        ++ [binary:copy(<<"0123456789">>, 1000000)],
    Bad = lists:filtermap(fun(T) ->
                                  {echo, Rust} ! {self(), T},
                                  receive
                                      {echo_reply, T2} ->
                                          case nodus_corpus:same(T, T2) of
                                              true -> false;
                                              false -> {true, {T, T2}}
                                          end
                                  after 10000 -> {true, {T, timeout}}
                                  end
                          end, Terms),
    case Bad of
        [] -> io:format("erl->nodus ok ~b~n", [length(Terms)]);
        [{Sent, Got} | _] ->
            %% One line (the test reads one): what was sent and what came back.
            io:format("erl->nodus FAIL ~b of ~b, first sent ~W got ~W~n",
                      [length(Bad), length(Terms), Sent, 40, Got, 40])
    end,
    timer:sleep(600000).

echo() ->
    receive
        {From, Msg} when is_pid(From) -> From ! {echo_reply, Msg};
        _ -> ok
    end,
    echo().
