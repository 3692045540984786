//! BEAM's introspection against a nodus node, from a real Elixir node:
//! processes, process_info, system_info, memory, statistics, os:getpid,
//! which_applications; `badarg` for what nodus does not support; and the
//! system processes (net_kernel, rex, global_name_server) answering
//! `:sys.get_state` while ignoring calls they do not know, as BEAM's.

use nodus::Node;

mod support;

const SCRIPT: &str = r#"
n = :"rti@127.0.0.1"
true = Node.connect(n)
IO.puts("connected")
r = fn m, f, a -> inspect(:rpc.call(n, m, f, a)) end
procs = :rpc.call(n, :erlang, :processes, [])
IO.puts("procs #{inspect(is_list(procs) and length(procs) > 3 and Enum.all?(procs, &is_pid/1))}")
rex = :rpc.call(n, :erlang, :whereis, [:rex])
IO.puts("rex_name #{r.(:erlang, :process_info, [rex, :registered_name])}")
info = :rpc.call(n, :erlang, :process_info, [rex])
IO.puts("info_keys #{inspect(Keyword.keys(info))}")
IO.puts("info_list #{r.(:erlang, :process_info, [rex, [:message_queue_len, :status]])}")
IO.puts("heap_size #{r.(:erlang, :process_info, [rex, :heap_size])}")
IO.puts("count #{inspect(is_integer(:rpc.call(n, :erlang, :system_info, [:process_count])))}")
IO.puts("limit #{r.(:erlang, :system_info, [:process_limit])}")
IO.puts("otp #{r.(:erlang, :system_info, [:otp_release])}")
IO.puts("bogus #{r.(:erlang, :system_info, [:bogus])}")
IO.puts("mem_total #{inspect(is_integer(:rpc.call(n, :erlang, :memory, [:total])))}")
IO.puts("mem_keys #{inspect(Keyword.has_key?(:rpc.call(n, :erlang, :memory, []), :processes))}")
IO.puts("mem_bad #{r.(:erlang, :memory, [:nope])}")
{rt, _} = :rpc.call(n, :erlang, :statistics, [:runtime])
{wc, _} = :rpc.call(n, :erlang, :statistics, [:wall_clock])
IO.puts("stats #{inspect(is_integer(rt) and is_integer(wc))}")
IO.puts("stats_bad #{r.(:erlang, :statistics, [:nope])}")
IO.puts("getpid #{inspect(List.to_integer(:rpc.call(n, :os, :getpid, [])) > 0)}")
IO.puts("apps #{inspect(Enum.map(:rpc.call(n, :application, :which_applications, []), &elem(&1, 0)))}")
IO.puts("nk_state #{inspect(Map.get(:sys.get_state({:net_kernel, n}), :node))}")
{:status, _, {:module, m}, _} = :sys.get_status({:net_kernel, n})
IO.puts("nk_status #{inspect(m)}")
IO.puts("gl_state #{inspect(Map.keys(:sys.get_state({:global_name_server, n})))}")
IO.puts("rex_state #{inspect(:sys.get_state({:rex, n}))}")
IO.puts("nk_unknown #{inspect(try do GenServer.call({:net_kernel, n}, :bogus, 500) catch :exit, {reason, _} -> reason end)}")
IO.puts("ping #{inspect(:net_adm.ping(n))}")
IO.puts("done")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beam_introspection_works_against_a_nodus_node() {
    let home = support::home("iexintro");
    let epmd = support::free_port();
    let node = Node::builder("rti@127.0.0.1")
        .cookie("intro")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let (_ex, out) = support::elixir(epmd, &home, "zintro@127.0.0.1", "intro", SCRIPT);
    support::wait_line(&out, "connected");
    let r = support::collect_until(&out, "done");
    let get = |k: &str| {
        r.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {r:?}"))
    };
    assert_eq!(get("procs"), "true");
    assert_eq!(get("rex_name"), "{:registered_name, :rex}");
    assert_eq!(
        get("info_keys"),
        "[:registered_name, :current_function, :initial_call, :status, :message_queue_len, :links, :dictionary, :trap_exit, :memory]"
    );
    assert_eq!(get("info_list"), "[message_queue_len: 0, status: :waiting]");
    assert!(get("heap_size").contains(":badarg"), "{}", get("heap_size"));
    assert_eq!(get("count"), "true");
    assert_eq!(get("limit"), "134217727");
    assert_eq!(get("otp"), "'25'");
    assert!(
        get("bogus").contains(":badarg") && !get("bogus").contains("undef"),
        "{}",
        get("bogus")
    );
    assert_eq!(get("mem_total"), "true");
    assert_eq!(get("mem_keys"), "true");
    assert!(get("mem_bad").contains(":badarg"));
    assert_eq!(get("stats"), "true");
    assert!(get("stats_bad").contains(":badarg"));
    assert_eq!(get("getpid"), "true");
    assert_eq!(get("apps"), "[:nodus, :stdlib, :kernel]");
    assert_eq!(get("nk_state"), ":\"rti@127.0.0.1\"");
    assert_eq!(get("nk_status"), ":gen_server");
    assert_eq!(get("gl_state"), "[:known, :names, :synced]");
    assert_eq!(get("rex_state"), "%{}");
    assert_eq!(get("nk_unknown"), ":timeout");
    assert_eq!(get("ping"), ":pong");
    node.shutdown();
}
