"""The host keeps a domain's last words: console output the domain's process sent just
before it exited, which the host reads only when it notices the exit, still reaches the
domain's log. (Under load this window between two rounds of the host's loop was wide
enough to lose a guest's final lines, e.g. "counter: PASS".)"""
from conftest import kernel


def test_output_sent_just_before_exit_reaches_the_log(tmp_path, guests):
    from hvcore.host.supervisor import Host
    state = tmp_path / "state"
    state.mkdir()
    cfg = tmp_path / "last.cfg"
    cfg.write_text(f'name = "last"\nkernel = "{kernel("pv64", "counter")}"\nmemory = 32\n'
                   'extra = "count=2 period_ms=1"\n')
    host = Host(state)
    try:
        assert host._create({"config": str(cfg)})["ok"]
        host.guests[1].dp.proc.wait(timeout=60)    # no round of the loop ran meanwhile
        host._reap()                               # as the loop does once it sees the exit
        assert 1 not in host.guests
        log = (state / "d1.log").read_text()
        assert log.endswith("counter: 2 lines\ncounter: PASS\n"), log
    finally:
        host._shutdown_all()
        host.listener.close()
        host.xs_listener.close()
