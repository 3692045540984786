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
    Bad = lists:filter(fun(T) ->
                               {echo, Rust} ! {self(), T},
                               receive
                                   {echo_reply, T2} -> not nodus_corpus:same(T, T2)
                               after 10000 -> true
                               end
                       end, Terms),
    case Bad of
        [] -> io:format("erl->nodus ok ~b~n", [length(Terms)]);
        _ -> io:format("erl->nodus FAIL ~b of ~b, first ~P~n", [length(Bad), length(Terms), hd(Bad), 20])
    end,
    timer:sleep(600000).

echo() ->
    receive
        {From, Msg} when is_pid(From) -> From ! {echo_reply, Msg};
        _ -> ok
    end,
    echo().
