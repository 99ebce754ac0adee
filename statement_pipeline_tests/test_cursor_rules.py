"""The sensor's cursor, pure: version digests, the listing fold, the cursor text and a tick's plan.

A stored cursor outlives the code that wrote it, so its text and its digests are pinned as
literals. The digests were worked out with plain hashlib, outside the code under test:
entry = int(sha256(f"{key}\\n{version}"), big endian), total = sum of entries mod 2**256,
digest = sha256(f"{count}:{total:064x}")[:24].
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.sensor_cursor import (
    CursorError,
    MonthChange,
    PrefixListing,
    PrefixTally,
    VersionSet,
    parse_cursor,
    plan_tick,
    render_cursor,
)

PREFIX = "statements/"
A = ("statements/2026-10/a.csv", '"e1"')
B = ("statements/2026-10/b.csv", '"e2"')
DIGEST_A = "aae2eb163988db200662e959"
DIGEST_AB = "87733377b6e0b812b3e22325"
DIGEST_C = "b4d81a55bb8fa16a2314a8b9"  # statements/2026-11/c.csv, "e3"
# statements/readme.txt, "not inside a month folder"
DIGEST_README = "e509cade588b4e2db2fda2ad"


def _versions(*pairs: tuple[str, str]) -> VersionSet:
    versions = VersionSet()
    for key, version in pairs:
        versions.add(key, version)
    return versions


def test_an_empty_version_set_has_the_digest_of_count_zero_and_total_zero() -> None:
    empty = VersionSet()
    assert empty.count == 0
    # sha256("0:" + 64 zeros)[:24]
    assert empty.digest() == "63e9013a4eb996a4c197721e"


def test_a_version_digest_names_the_key_and_its_version() -> None:
    assert _versions(("a.csv", '"e1"')).digest() == "c6d127cc0e19a6b04b8f89de"
    # An overwrite (new ETag) and a rename each give another digest.
    assert _versions(("a.csv", '"e2"')).digest() == "5684920095a32fead6782ee8"
    assert _versions(("b.csv", '"e1"')).digest() == "5833ad9d4db249a4a1bef360"


def test_a_version_digest_wraps_its_sum_and_ignores_the_listing_order() -> None:
    # The two entries start 0xce6a... and 0xf5e6...: their sum passes 2**256 and wraps.
    forward = _versions(("a.csv", '"e1"'), ("b.csv", '"e2"'))
    backward = _versions(("b.csv", '"e2"'), ("a.csv", '"e1"'))
    assert forward.count == backward.count == 2
    assert forward.digest() == backward.digest() == "da4b228fb9c838a8f70aba1c"


def _tally(*objects: tuple[str, str], prefix: str = PREFIX) -> PrefixTally:
    tally = PrefixTally(prefix)
    for key, etag in objects:
        tally.add(key, etag)
    return tally


def test_a_listing_gives_each_month_the_digest_and_count_of_its_csv_files() -> None:
    tally = _tally(B, ("statements/2026-11/c.csv", '"e3"'), A)
    tally.pages = 2
    listing = tally.listing(1.23456)
    assert listing.months == {"2026-10": (DIGEST_AB, 2), "2026-11": (DIGEST_C, 1)}
    assert listing.objects == 3
    assert listing.pages == 2
    assert listing.seconds == 1.235
    assert (listing.ignored_count, listing.ignored_sample, listing.ignored_digest) == (0, [], "")


def test_a_listing_names_its_months_in_order_whatever_order_they_came_in() -> None:
    listing = _tally(("statements/2026-11/c.csv", '"e3"'), A).listing(0.0)
    assert list(listing.months) == ["2026-10", "2026-11"]


def test_folder_markers_are_counted_as_objects_but_neither_months_nor_ignored() -> None:
    listing = _tally(("statements/", ""), ("statements/2026-10/", ""), A).listing(0.0)
    assert listing.objects == 3
    assert listing.months == {"2026-10": (DIGEST_A, 1)}
    assert listing.ignored_count == 0


def test_keys_that_are_not_statement_files_are_ignored_with_their_reason() -> None:
    listing = _tally(("statements/readme.txt", '"x"'), A).listing(0.0)
    assert listing.months == {"2026-10": (DIGEST_A, 1)}
    assert listing.ignored_count == 1
    assert listing.ignored_sample == [("statements/readme.txt", "not inside a month folder")]
    # The ignored digest is of (key, reason), not of the ETag.
    assert listing.ignored_digest == DIGEST_README


def test_only_twenty_ignored_keys_are_kept_to_name_but_all_are_counted() -> None:
    keys = [f"statements/note-{n:02d}.txt" for n in range(21)]
    listing = _tally(*((key, '"x"') for key in keys)).listing(0.0)
    assert listing.ignored_count == 21
    assert [key for key, _reason in listing.ignored_sample] == keys[:20]


def test_rejects_are_skipped_when_months_sit_at_the_bucket_root() -> None:
    root = _tally(("rejects/2026-10/a.rejects.csv", '"r"'), ("2026-10/a.csv", '"e1"'), prefix="")
    listing = root.listing(0.0)
    assert listing.objects == 2
    assert list(listing.months) == ["2026-10"]
    assert listing.ignored_count == 0


def test_rejects_under_a_prefix_are_outside_it_and_ignored() -> None:
    listing = _tally(("rejects/2026-10/a.rejects.csv", '"r"')).listing(0.0)
    assert listing.ignored_sample == [
        ("rejects/2026-10/a.rejects.csv", "outside the statement prefix")
    ]


def test_an_unset_cursor_is_an_empty_state() -> None:
    assert parse_cursor(None) == ({}, "")
    assert parse_cursor("") == ({}, "")


def test_a_cursor_is_read_back_from_its_compact_json() -> None:
    cursor = '{"v":1,"months":{"2026-10":["d1",3],"2026-11":["",2]},"skipped":"s1"}'
    assert parse_cursor(cursor) == ({"2026-10": ("d1", 3), "2026-11": ("", 2)}, "s1")


def test_a_cursor_without_a_skipped_digest_has_an_empty_one() -> None:
    assert parse_cursor('{"v":1,"months":{"2026-10":["d1","4"]}}') == ({"2026-10": ("d1", 4)}, "")


@pytest.mark.parametrize(
    "cursor",
    [
        "{",  # not JSON
        '{"v":2,"months":{}}',  # another version
        '{"months":{}}',  # no version
        '{"v":1}',  # no months
        '{"v":1,"months":[]}',  # months not a mapping
        '{"v":1,"months":{"2026-10":["d1"]}}',  # no generation
        '{"v":1,"months":{"2026-10":7}}',  # state not a pair
        '{"v":1,"months":{"2026-10":["d1","x"]}}',  # generation not a number
        "[1]",  # not an object
    ],
)
def test_a_cursor_this_sensor_did_not_write_says_how_to_reset_it(cursor: str) -> None:
    with pytest.raises(CursorError) as raised:
        parse_cursor(cursor)
    message = str(raised.value)
    assert message.startswith("the sensor cursor is not one this sensor wrote (")
    assert message.endswith(
        "); `dagster sensor cursor statement_file_sensor --delete` resets it "
        "(every month is then imported again)"
    )


def test_a_cursor_of_another_version_names_both_versions() -> None:
    with pytest.raises(CursorError, match=r"\(cursor version 2, expected 1\)"):
        parse_cursor('{"v":2,"months":{}}')


def test_the_cursor_is_compact_json_with_months_in_order() -> None:
    months = {"2026-11": ("d2", 1), "2026-10": ("d1", 3)}
    assert render_cursor(months, "s1") == (
        '{"v":1,"months":{"2026-10":["d1",3],"2026-11":["d2",1]},"skipped":"s1"}'
    )


def _listing(months: dict[str, tuple[str, int]], ignored_digest: str = "") -> PrefixListing:
    return PrefixListing(
        months=months,
        ignored_count=1 if ignored_digest else 0,
        ignored_sample=[],
        ignored_digest=ignored_digest,
        objects=0,
        pages=1,
        seconds=0.0,
    )


def _every_month(_month: str) -> bool:
    return True


def test_a_first_tick_requests_every_month_as_first_seen_generation_one() -> None:
    plan = plan_tick(_listing({"2026-10": ("d1", 2), "2026-11": ("d2", 5)}), None, _every_month)
    assert plan.changes == [
        MonthChange("2026-10", "d1", 1, 2, True),
        MonthChange("2026-11", "d2", 1, 5, True),
    ]
    assert [c.run_key for c in plan.changes] == ["2026-10:d1:1", "2026-11:d2:1"]
    assert plan.cursor == '{"v":1,"months":{"2026-10":["d1",1],"2026-11":["d2",1]},"skipped":""}'
    assert (plan.outside_partitions, plan.emptied, plan.skipped_changed) == ([], [], False)


def test_an_unchanged_month_is_not_requested_and_keeps_its_cursor_entry() -> None:
    cursor = '{"v":1,"months":{"2026-10":["d1",4]},"skipped":""}'
    plan = plan_tick(_listing({"2026-10": ("d1", 2)}), cursor, _every_month)
    assert plan.changes == []
    assert plan.cursor == cursor


def test_a_changed_month_is_requested_with_the_next_generation() -> None:
    cursor = '{"v":1,"months":{"2026-10":["d1",4],"2026-11":["d2",1]},"skipped":""}'
    plan = plan_tick(_listing({"2026-10": ("d3", 2), "2026-11": ("d2", 1)}), cursor, _every_month)
    assert plan.changes == [MonthChange("2026-10", "d3", 5, 2, False)]
    assert plan.changes[0].run_key == "2026-10:d3:5"
    assert plan.cursor == '{"v":1,"months":{"2026-10":["d3",5],"2026-11":["d2",1]},"skipped":""}'


def test_a_month_whose_files_are_gone_keeps_its_generation_with_an_empty_digest() -> None:
    cursor = '{"v":1,"months":{"2026-09":["d0",2],"2026-10":["d1",1]},"skipped":""}'
    plan = plan_tick(_listing({"2026-10": ("d1", 1)}), cursor, _every_month)
    assert plan.changes == []
    assert plan.emptied == ["2026-09"]
    assert plan.cursor == '{"v":1,"months":{"2026-09":["",2],"2026-10":["d1",1]},"skipped":""}'


def test_an_emptied_month_is_reported_once_and_its_return_is_a_new_generation() -> None:
    cursor = '{"v":1,"months":{"2026-09":["",2]},"skipped":""}'
    again = plan_tick(_listing({}), cursor, _every_month)
    assert (again.changes, again.emptied, again.cursor) == ([], [], cursor)
    back = plan_tick(_listing({"2026-09": ("d0", 1)}), cursor, _every_month)
    assert back.changes == [MonthChange("2026-09", "d0", 3, 1, False)]


def test_a_month_outside_the_partitions_is_skipped_unrecorded_and_named_once() -> None:
    listing = _listing({"2026-10": ("d1", 1), "2027-01": ("d9", 1)})
    plan = plan_tick(listing, None, lambda month: month != "2027-01")
    assert plan.changes == [MonthChange("2026-10", "d1", 1, 1, True)]
    assert plan.outside_partitions == ["2027-01"]
    assert plan.skipped_changed is True
    # skipped = digest of {("2027-01", "d9")}
    assert plan.cursor == (
        '{"v":1,"months":{"2026-10":["d1",1]},"skipped":"1d86ac7dcc69cf4da0bf7e82"}'
    )
    again = plan_tick(listing, plan.cursor, lambda month: month != "2027-01")
    assert (again.changes, again.skipped_changed, again.cursor) == ([], False, plan.cursor)


def test_ignored_keys_and_outside_months_share_one_skipped_digest() -> None:
    listing = _listing({"2027-01": ("d9", 1)}, ignored_digest="d0")
    plan = plan_tick(listing, None, lambda _month: False)
    # skipped = digest of {("ignored keys", "d0"), ("2027-01", "d9")}
    assert plan.cursor == '{"v":1,"months":{},"skipped":"909198acf30a49d25ead5abe"}'
    only_ignored = plan_tick(_listing({}, ignored_digest="d0"), plan.cursor, _every_month)
    assert only_ignored.skipped_changed is True
    # skipped = digest of {("ignored keys", "d0")}
    assert only_ignored.cursor == '{"v":1,"months":{},"skipped":"0436707910804d35bc9613ad"}'


def test_skipped_keys_that_went_away_are_a_change_to_report() -> None:
    cursor = '{"v":1,"months":{},"skipped":"0436707910804d35bc9613ad"}'
    plan = plan_tick(_listing({}), cursor, _every_month)
    assert plan.skipped_changed is True
    assert plan.cursor == '{"v":1,"months":{},"skipped":""}'
