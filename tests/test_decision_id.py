"""Decision ids: UUIDv7, time-ordered, never repeated — also across the random blocks the
ids draw from, and in a forked child (which must not reuse the parent's block)."""

from __future__ import annotations

import os
import uuid

from callguard import decision
from callguard.decision import new_decision_id


def test_uuid7_form_and_no_repeat_across_blocks():
    count = 3 * decision._RANDOM_BLOCK + 7  # several refills
    ids = [new_decision_id() for _ in range(count)]
    assert len(set(ids)) == count
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    assert {u.variant for u in parsed} == {uuid.RFC_4122}
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # the millisecond prefix


def test_a_forked_child_draws_its_own_values():
    new_decision_id()  # the parent holds a partly used block
    assert decision._RANDOM
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first value must not be one the parent still holds
        os.close(read)
        os.write(write, b"1" if not decision._RANDOM else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
