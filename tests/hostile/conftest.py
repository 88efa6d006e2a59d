"""The hostile suite: real hostile servers on loopback and hostile files.

Every case asserts, through `tests.support.hostile.assert_safe`, the exit code, one
`error:` line, no secret, no line a runner would execute, no control character.
Cases count requests instead of timing them.
"""
