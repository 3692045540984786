%% Corpus generator and checker for the nodus term layer's cross-checks
%% against real Erlang. Driven by crates/term/tests/erl_crosscheck.rs and by
%% bench/etf.sh.
%%
%%   erl -noshell -pa DIR -run nodus_corpus main gen DIR SEED N
%%       writes DIR/etf.bin, compressed.bin, text.bin, sort.bin
%%   erl -noshell -pa DIR -run nodus_corpus main check DIR
%%       reads nodus's answers (nodus_*.bin) and checks them; exit 0 if all pass
%%   erl -noshell -pa DIR -run nodus_corpus main bench DIR ROUNDS
%%       times binary_to_term/1 and term_to_binary/1 over DIR/etf.bin
%%
%% Records are <<Size:32, Data:Size/binary>>.
-module(nodus_corpus).
-export([main/1, terms/2, same/2]).
-ifdef(DEBUG).
-export([fixed/0, gen/1, flags/1, text_safe/1]).
-endif.

main([Mode, Dir | Rest]) ->
    try run(Mode, Dir, Rest) of
        ok -> halt(0);
        fail -> halt(1)
    catch
        C:E:St ->
            io:format(standard_error, "nodus_corpus crashed: ~p:~p~n~p~n", [C, E, St]),
            halt(2)
    end.

%%% Modes

run("gen", Dir, [SeedS, NS]) ->
    Terms = terms(list_to_integer(SeedS), list_to_integer(NS)),
    write(Dir, "etf.bin", [<<(flags(T)):8, (term_to_binary(T))/binary>> || T <- Terms]),
    write(Dir, "compressed.bin", [term_to_binary(T, [compressed]) || T <- Terms]),
    Text = lists:append([[unicode:characters_to_binary(io_lib:format("~p.", [T])),
                          term_to_binary(T)] || T <- Terms, text_safe(T)]),
    write(Dir, "text.bin", Text),
    Sample = sort_sample(),
    write(Dir, "sort.bin", [term_to_binary(T) || T <- Sample]),
    io:format("generated ~b terms, ~b text-safe, ~b to sort~n",
              [length(Terms), length(Text) div 2, length(Sample)]),
    ok;
run("check", Dir, []) ->
    Orig = [binary_to_term(B) || <<_, B/binary>> <- read(Dir, "etf.bin")],
    R1 = check_pairs("nodus encoding decoded by erl =:= original",
                     Orig, [binary_to_term(B) || B <- read(Dir, "nodus_etf.bin")]),
    R2 = check_pairs("nodus compressed encoding decoded by erl =:= original",
                     Orig, [binary_to_term(B) || B <- read(Dir, "nodus_compressed.bin")]),
    TextOrig = [binary_to_term(B) || {_, B} <- pairs(read(Dir, "text.bin"))],
    R3 = check_pairs("nodus text parsed by erl_parse =:= original",
                     TextOrig, [parse(B) || B <- read(Dir, "nodus_text.bin")]),
    Sample = [binary_to_term(B) || B <- read(Dir, "sort.bin")],
    Sorted = [binary_to_term(B) || B <- read(Dir, "nodus_sorted.bin")],
    R4 = check_sort(Sample, Sorted),
    case lists:all(fun(R) -> R =:= ok end, [R1, R2, R3, R4]) of
        true -> ok;
        false -> fail
    end;
run("bench", Dir, [RoundsS]) ->
    Rounds = list_to_integer(RoundsS),
    Bins = [B || <<_, B/binary>> <- read(Dir, "etf.bin")],
    Bytes = lists:sum([byte_size(B) || B <- Bins]),
    Terms = [binary_to_term(B) || B <- Bins],
    %% Warm up, then time.
    _ = [binary_to_term(B) || B <- Bins],
    {TD, _} = timer:tc(fun() -> loop(Rounds, fun() -> [binary_to_term(B) || B <- Bins] end) end),
    {TE, _} = timer:tc(fun() -> loop(Rounds, fun() -> [term_to_binary(T) || T <- Terms] end) end),
    io:format("beam decode ~b ~b ~b ~b~n", [Rounds, length(Bins), Bytes, TD]),
    io:format("beam encode ~b ~b ~b ~b~n", [Rounds, length(Bins), Bytes, TE]),
    ok.

%% The corpus: the fixed edge cases and N random terms from Seed.
terms(Seed, N) ->
    rand:seed(exsss, {Seed, 17, 4711}),
    fixed() ++ [gen(4) || _ <- lists:seq(1, N)].

loop(0, _) -> ok;
loop(N, F) -> _ = F(), loop(N - 1, F).

check_pairs(What, Expected, Got) when length(Expected) =/= length(Got) ->
    io:format("FAIL ~s: ~b expected, ~b got~n", [What, length(Expected), length(Got)]),
    fail;
check_pairs(What, Expected, Got) ->
    Bad = [{I, E, G} || {I, E, G} <- lists:zip3(lists:seq(1, length(Got)), Expected, Got), not same(E, G)],
    case Bad of
        [] ->
            io:format("ok ~s: ~b terms~n", [What, length(Got)]),
            ok;
        _ ->
            io:format("FAIL ~s: ~b of ~b differ~n", [What, length(Bad), length(Got)]),
            [begin
                 {DE, DG} = diff(E, G),
                 io:format("  #~b differs at expected ~P~n      got ~P~n", [I, DE, 30, DG, 30])
             end || {I, E, G} <- lists:sublist(Bad, 5)],
            fail
    end.

%% =:=, except that maps are compared as sorted lists of pairs: BEAM's =:=
%% on two large (HAMT) maps with the same pairs can be false when their keys
%% collide in its internal hash, depending on the order they were inserted.
same(E, G) -> E =:= G orelse canon(E) =:= canon(G).

canon(M) when is_map(M) -> {'$map', lists:sort([{canon(K), canon(V)} || {K, V} <- maps:to_list(M)])};
canon([H | T]) -> [canon(H) | canon(T)];
canon(T) when is_tuple(T) -> list_to_tuple([canon(E) || E <- tuple_to_list(T)]);
canon(F) when is_function(F) ->
    case erlang:fun_info(F, type) of
        {type, local} -> {'$fun', lists:keydelete(env, 1, erlang:fun_info(F)), canon(element(2, erlang:fun_info(F, env)))};
        _ -> F
    end;
canon(X) -> X.

%% The first pair of differing subterms.
diff(E, G) when is_tuple(E), is_tuple(G), tuple_size(E) =:= tuple_size(G) ->
    diff(tuple_to_list(E), tuple_to_list(G));
diff([E | _], [G | _]) when E =/= G -> diff(E, G);
diff([_ | Es], [_ | Gs]) -> diff(Es, Gs);
diff(E, G) when is_map(E), is_map(G), map_size(E) =:= map_size(G) ->
    case maps:keys(E) =:= maps:keys(G) of
        true -> diff(maps:values(E), maps:values(G));
        false -> {lists:sort(maps:keys(E)), lists:sort(maps:keys(G))}
    end;
diff(E, G) when is_function(E), is_function(G) ->
    case erlang:fun_info(E, env) =:= erlang:fun_info(G, env) of
        true -> {erlang:fun_info(E), erlang:fun_info(G)};
        false -> diff(erlang:fun_info(E, env), erlang:fun_info(G, env))
    end;
diff(E, G) -> {E, G}.

check_sort(Sample, Sorted) ->
    ErlSorted = lists:sort(Sample),
    SameLen = length(ErlSorted) =:= length(Sorted),
    Agree = SameLen andalso lists:all(fun({A, B}) -> A == B end, lists:zip(ErlSorted, Sorted)),
    Ascending = lists:all(fun({A, B}) -> A =< B end, lists:zip(lists:droplast(Sorted), tl(Sorted))),
    Permutation = msort_eq(Sorted, Sample),
    case SameLen andalso Agree andalso Ascending andalso Permutation of
        true ->
            io:format("ok term order: nodus and erl sort ~b terms alike~n", [length(Sorted)]),
            ok;
        false ->
            io:format("FAIL term order: same length ~p, agree ~p, ascending ~p, permutation ~p~n",
                      [SameLen, Agree, Ascending, Permutation]),
            [io:format("  at ~b erl ~P~n        nodus ~P~n", [I, A, 20, B, 20])
             || {I, A, B} <- lists:sublist([{I, A, B} || {I, A, B} <- lists:zip3(lists:seq(1, min(length(ErlSorted), length(Sorted))), lists:sublist(ErlSorted, length(Sorted)), lists:sublist(Sorted, length(ErlSorted))), A /= B], 5)],
            fail
    end.

%% Same multiset, compared with =:= (lists:sort keeps == elements in input order).
msort_eq(A, B) ->
    Key = fun(T) -> term_to_binary(canon(T)) end,
    lists:sort([Key(T) || T <- A]) =:= lists:sort([Key(T) || T <- B]).

parse(Bin) ->
    {ok, Toks, _} = erl_scan:string(unicode:characters_to_list(Bin)),
    {ok, T} = erl_parse:parse_term(Toks),
    T.

%%% Files

write(Dir, Name, Bins) ->
    ok = file:write_file(filename:join(Dir, Name), [<<(byte_size(B)):32, B/binary>> || B <- Bins]).

read(Dir, Name) ->
    {ok, Data} = file:read_file(filename:join(Dir, Name)),
    records(Data).

records(<<>>) -> [];
records(<<N:32, B:N/binary, Rest/binary>>) -> [B | records(Rest)].

pairs([A, B | Rest]) -> [{A, B} | pairs(Rest)];
pairs([]) -> [].

%%% What each term is checked for

%% bit 0: nodus must re-encode it byte for byte (no map over 32 keys);
%% bit 1: it has Erlang source syntax (no pid, port, ref or local fun).
flags(T) ->
    (case has_big_map(T) of true -> 0; false -> 1 end) bor
    (case text_safe(T) of true -> 2; false -> 0 end).

has_big_map(T) when is_map(T) -> map_size(T) > 32 orelse has_big_map(maps:to_list(T));
has_big_map(T) when is_tuple(T) -> has_big_map(tuple_to_list(T));
has_big_map([H | T]) -> has_big_map(H) orelse has_big_map(T);
has_big_map(T) when is_function(T) ->
    case erlang:fun_info(T, type) of
        {type, local} -> {env, Env} = erlang:fun_info(T, env), has_big_map(Env);
        _ -> false
    end;
has_big_map(_) -> false.

text_safe(T) when is_pid(T); is_port(T); is_reference(T) -> false;
text_safe(T) when is_function(T) -> erlang:fun_info(T, type) =:= {type, external};
text_safe(T) when is_map(T) -> text_safe(maps:to_list(T));
text_safe(T) when is_tuple(T) -> text_safe(tuple_to_list(T));
text_safe([H | T]) -> text_safe(H) andalso text_safe(T);
text_safe(_) -> true.

%%% Generators

fixed() ->
    [0, 255, 256, -1, 2147483647, 2147483648, -2147483648, -2147483649,
     1 bsl 63, -(1 bsl 63), (1 bsl 64) - 1, 1 bsl 2040, -(1 bsl 2047), 1 bsl 2048,
     0.0, -0.0, 1.0, 1.0e300, -1.0e-300, 5.0e-324, 1.7976931348623157e308,
     '', 'ok', 'Elixir.Phoenix.PubSub', 'and', 'fun', 'hello world', 'it\'s', '\\',
     list_to_atom(lists:duplicate(255, $a)), list_to_atom(lists:duplicate(255, 945)),
     list_to_atom(lists:duplicate(85, 8364)), list_to_atom(lists:duplicate(86, 8364)),
     list_to_atom([233, 960, 128512]),
     [], "", "abc", [945, 946], "line\nbreak\t\"q\"\\", lists:seq(0, 255),
     lists:duplicate(65535, $x), lists:duplicate(65536, $y), [1 | 2], [a, b | c], [[] | []],
     {}, {a}, list_to_tuple(lists:seq(1, 255)), list_to_tuple(lists:seq(1, 256)),
     #{}, #{1 => a, 1.0 => b, 2 => c, {1} => d, {1.0} => e, [] => f, #{} => g, <<>> => h},
     maps:from_list([{I, I} || I <- lists:seq(1, 32)]),
     maps:from_list([{I, I} || I <- lists:seq(1, 33)]),
     maps:from_list([{{k, I}, I * 1.5} || I <- lists:seq(1, 100)]),
     <<>>, <<1, 2, 3>>, <<"é"/utf8>>, <<"abc">>, <<1:1>>, <<255:7>>, <<1, 2, 3:5>>,
     binary:copy(<<7>>, 70000),
     fun lists:map/2, fun erlang:'+'/2, fun 'Elixir.Enum':map/2,
     self(), make_ref(), hd(erlang:ports()),
     nest(200, fun(X) -> [X] end, a), nest(200, fun(X) -> {X} end, b),
     nest(150, fun(X) -> #{k => X} end, c), nest(100, fun(X) -> [x | X] end, d)].

nest(0, _, X) -> X;
nest(N, F, X) -> nest(N - 1, F, F(X)).

pick(L) -> lists:nth(rand:uniform(length(L)), L).

gen(D) when D =< 0 -> leaf();
gen(D) ->
    case rand:uniform(10) of
        N when N =< 5 -> leaf();
        _ -> compound(D)
    end.

compound(D) ->
    case rand:uniform(100) of
        N when N =< 25 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(8) - 1)];
        N when N =< 33 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(4))] ++ non_list_leaf();
        N when N =< 58 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(8) - 1)]);
        N when N =< 59 -> list_to_tuple([leaf() || _ <- lists:seq(1, 250 + rand:uniform(20))]);
        N when N =< 82 -> maps:from_list([{key(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(10) - 1)]);
        N when N =< 84 -> maps:from_list([{key(D - 1), leaf()} || _ <- lists:seq(1, 33 + rand:uniform(40))]);
        N when N =< 92 -> closure(D);
        N when N =< 94 -> nest(rand:uniform(120), pick([fun(X) -> [X] end, fun(X) -> {X} end, fun(X) -> #{X => 1} end]), leaf());
        _ -> [leaf() | gen(D - 1)]
    end.

key(D) ->
    case rand:uniform(4) of
        1 -> gen(D);
        _ -> leaf()
    end.

closure(D) ->
    X = gen(D - 1),
    Y = leaf(),
    pick([fun() -> X end, fun(A) -> {A, X, Y} end, fun(A, B) -> [A, B, Y] end]).

non_list_leaf() ->
    case leaf() of
        L when is_list(L) -> atom();
        T -> T
    end.

leaf() ->
    case rand:uniform(100) of
        N when N =< 10 -> rand:uniform(256) - 1;
        N when N =< 16 -> rand:uniform(1 bsl 32) - (1 bsl 31) - 1;
        N when N =< 19 -> pick([256, -1, -256, 2147483647, -2147483648, 2147483648, -2147483649, 1 bsl 62, -(1 bsl 63)]);
        N when N =< 25 -> big();
        N when N =< 33 -> float();
        N when N =< 36 -> pick([1, 1.0, 2, 2.0, -1, -1.0, 0, 0.0]);
        N when N =< 50 -> atom();
        N when N =< 62 -> binary();
        N when N =< 65 -> bitstring();
        N when N =< 72 -> string();
        N when N =< 74 -> [rand:uniform(16#10FFFF div 2) || _ <- lists:seq(1, rand:uniform(10))];
        N when N =< 77 -> pid();
        N when N =< 80 -> ref();
        N when N =< 82 -> port();
        N when N =< 85 -> pick([fun lists:map/2, fun erlang:'++'/2, fun 'Elixir.Enum':map/2, fun maps:get/3]);
        N when N =< 90 -> [];
        _ -> {}
    end.

big() ->
    Bytes = case rand:uniform(10) of
                10 -> 250 + rand:uniform(20);
                _ -> 8 + rand:uniform(40)
            end,
    <<M:Bytes/unit:8>> = rand:bytes(Bytes),
    M1 = M bor (1 bsl (Bytes * 8 - 1)),
    case rand:uniform(2) of 1 -> M1; 2 -> -M1 end.

float() ->
    <<Bits:64>> = rand:bytes(8),
    try <<F:64/float>> = <<Bits:64>>, F
    catch error:{badmatch, _} -> float()
    end.

atom() ->
    Len = case rand:uniform(20) of 20 -> 200 + rand:uniform(55); _ -> rand:uniform(12) - 1 end,
    Chars = case rand:uniform(4) of
                1 -> [pick("abcdefghijklmnopqrstuvwxyz") || _ <- lists:seq(1, Len)];
                2 -> [pick("abcXYZ019_@. '\\\"" ++ [233, 255, 160, 10]) || _ <- lists:seq(1, Len)];
                3 -> [pick([945, 8364, 128512, 1103, 20013, 97, 98]) || _ <- lists:seq(1, Len)];
                4 -> [rand:uniform(255) || _ <- lists:seq(1, Len)]
            end,
    list_to_atom(Chars).

binary() ->
    Size = case rand:uniform(20) of
               N when N =< 4 -> rand:uniform(3) - 1;
               N when N =< 12 -> rand:uniform(20);
               N when N =< 17 -> 100 + rand:uniform(300);
               N when N =< 19 -> 1000 + rand:uniform(4000);
               _ -> case rand:uniform(10) of 1 -> 20000 + rand:uniform(50000); _ -> 4000 + rand:uniform(2000) end
           end,
    case rand:uniform(3) of
        1 -> rand:bytes(Size);
        2 -> list_to_binary([pick("abc def\n\"\\xyz") || _ <- lists:seq(1, Size)]);
        3 -> unicode:characters_to_binary([pick([$a, 233, 945, 8364, 128512]) || _ <- lists:seq(1, min(Size, 500))])
    end.

bitstring() ->
    Bits = rand:uniform(7),
    Bytes = rand:uniform(50) - 1,
    <<B:Bytes/binary, _/bitstring>> = rand:bytes(Bytes + 1),
    <<X:Bits, _/bitstring>> = rand:bytes(1),
    <<B/binary, X:Bits>>.

string() ->
    Len = case rand:uniform(20) of 20 -> 1000 + rand:uniform(2000); _ -> rand:uniform(40) end,
    case rand:uniform(2) of
        1 -> [pick("abcdefghij klmnop\n\t\"'\\") || _ <- lists:seq(1, Len)];
        2 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, Len)]
    end.

node_name() ->
    pick(['n1@127.0.0.1', 'n2@127.0.0.1', 'a@b', 'nonode@nohost', 'ünï@host', 'x@very.long.host.name']).

pid() ->
    case rand:uniform(4) of
        1 -> self();
        _ ->
            N = atom_to_binary(node_name(), utf8),
            binary_to_term(<<131, 88, 119, (byte_size(N)), N/binary, (rand:uniform(1 bsl 15)):32,
                             (rand:uniform(1 bsl 13) - 1):32, (rand:uniform(1 bsl 32) - 1):32>>)
    end.

ref() ->
    case rand:uniform(4) of
        1 -> make_ref();
        _ ->
            N = atom_to_binary(node_name(), utf8),
            Len = rand:uniform(5),
            Ids = << <<(rand:uniform(1 bsl 32) - 1):32>> || _ <- lists:seq(1, Len) >>,
            binary_to_term(<<131, 90, Len:16, 119, (byte_size(N)), N/binary,
                             (rand:uniform(1 bsl 32) - 1):32, Ids/binary>>)
    end.

port() ->
    case rand:uniform(4) of
        1 -> hd(erlang:ports());
        _ ->
            N = atom_to_binary(node_name(), utf8),
            binary_to_term(<<131, 89, 119, (byte_size(N)), N/binary, (rand:uniform(1 bsl 28)):32,
                             (rand:uniform(1 bsl 32) - 1):32>>)
    end.

%% Maps of over 32 keys are left out: BEAM orders two of them of the same
%% size by its internal key hashes, which nodus does not reproduce.
sort_sample() ->
    Ts = [case rand:uniform(3) of 1 -> leaf(); _ -> gen(2) end || _ <- lists:seq(1, 1100)],
    lists:sublist([T || T <- Ts, not has_big_map(T)], 1000).
