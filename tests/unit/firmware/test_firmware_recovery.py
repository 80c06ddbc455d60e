"""The recovery ladder's decisions on a fake clock."""

from sensor_node.recovery import NOTHING, RESET, RESTART_RADIO, RecoveryLadder

S = 1000


def ladder(now=0):
    return RecoveryLadder(120 * S, 1800 * S, now)


def run(ladder, until_s, answer_every_s=None, step_s=1):
    """Step the ladder like the loop does, one attempt a step; returns [(second, action)]
    of what it asked."""
    asked = []
    for second in range(0, until_s + 1, step_s):
        now = second * S
        if answer_every_s and second % answer_every_s == 0:
            ladder.answered(now)
        else:
            ladder.unanswered(now)
        action = ladder.action(now)
        if action != NOTHING:
            asked.append((second, action))
            if action == RESTART_RADIO:
                ladder.radio_restarted(now)
            if action == RESET:
                break
    return asked


def test_a_silent_network_restarts_the_radio_then_resets():
    asked = run(ladder(), 4000)

    restarts = [second for second, action in asked if action == RESTART_RADIO]
    assert restarts == list(range(120, 1800, 120))
    assert asked[-1] == (1800, RESET)


def test_a_broker_that_refuses_never_causes_a_reset():
    # Connection refused every 30 s proves the radio and IP stack work.
    assert run(ladder(), 7200, answer_every_s=30) == []


def test_answers_that_stop_start_the_silence_clock():
    node = ladder()
    node.answered(1000 * S)

    node.unanswered(1119 * S)
    assert node.action(1119 * S) == NOTHING
    node.unanswered(1120 * S)
    assert node.action(1120 * S) == RESTART_RADIO
    node.radio_restarted(1120 * S)
    node.unanswered(1800 * S)
    assert node.action(1800 * S) == RESET


def test_time_without_an_attempt_is_not_silence():
    # The backoff may wait up to 30 s against a radio restart after 30 s: a broker that
    # refused the last attempt is still counted as answering until an attempt finds nothing.
    node = RecoveryLadder(30 * S, 1800 * S, 0)
    node.answered(21 * S)

    assert node.action(51 * S) == NOTHING
    assert node.action(500 * S) == NOTHING
    node.answered(52 * S)
    node.unanswered(81 * S)
    assert node.action(81 * S) == NOTHING
    node.unanswered(82 * S)
    assert node.silent_ms() == 30 * S
    assert node.action(82 * S) == RESTART_RADIO


def test_no_reset_while_the_buffer_has_room():
    node = ladder()
    node.radio_restarted(1680 * S)

    node.unanswered(1800 * S)
    assert node.action(1800 * S, buffer_full=False) == RESTART_RADIO
    node.radio_restarted(1800 * S)
    node.unanswered(7200 * S)
    assert node.action(7200 * S, buffer_full=False) == RESTART_RADIO
    assert node.action(7200 * S, buffer_full=True) == RESET


def test_online_resets_everything():
    node = ladder()
    node.online(100 * S)

    assert node.offline_ms(5000 * S) == 0
    node.unanswered(5000 * S)
    assert node.silent_ms() == 0
    assert node.action(5000 * S) == NOTHING

    node.offline(5000 * S)
    assert node.offline_ms(5100 * S) == 100 * S
    node.unanswered(5119 * S)
    assert node.action(5119 * S) == NOTHING
    node.unanswered(5120 * S)
    assert node.action(5120 * S) == RESTART_RADIO


def test_going_offline_twice_keeps_the_first_moment():
    node = ladder()
    node.online(0)
    node.offline(10 * S)
    node.offline(50 * S)

    assert node.offline_ms(60 * S) == 50 * S
