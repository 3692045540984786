%% The erl side of crates/node/tests/erl_links.rs: a `ctl` process that
%% spawns victims, links and monitors on request, and reports by printing.
-module(nodus_links).
-export([start/0]).

start() ->
    register(ctl, self()),
    io:format("ready~n"),
    loop().

loop() ->
    receive
        {spawn_victim, From} ->
            From ! {victim, spawn(fun victim/0)};
        {link_to, Pid, From} ->
            Me = self(),
            spawn(fun() ->
                          process_flag(trap_exit, true),
                          link(Pid),
                          Me ! linked,
                          receive {'EXIT', Pid, R} -> io:format("exit_from_rust=~p~n", [R]) end
                  end),
            receive linked -> From ! linked end;
        {monitor, Target, From} ->
            Me = self(),
            spawn(fun() ->
                          Ref = monitor(process, Target),
                          Me ! monitoring,
                          receive {'DOWN', Ref, process, _, R} -> io:format("down=~p~n", [R]) end
                  end),
            receive monitoring -> From ! monitoring end;
        {exit2, Pid, Reason, From} ->
            exit(Pid, Reason),
            From ! sent
    end,
    loop().

victim() ->
    receive
        {die, Reason} -> exit(Reason)
    end.
