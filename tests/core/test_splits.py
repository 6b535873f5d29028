from twinarch.core.splits import Holdout, heldout_fraction_position


def test_train_and_heldout_sides_partition_the_rows():
    rows = [{"id": f"doc-{i}"} for i in range(2000)]
    train = Holdout("id", 0.3, "train")
    held = Holdout("id", 0.3, "heldout")
    kept_train = {r["id"] for r in rows if train.keeps(r)}
    kept_held = {r["id"] for r in rows if held.keeps(r)}
    assert kept_train.isdisjoint(kept_held)
    assert kept_train | kept_held == {r["id"] for r in rows}
    assert 0.25 < len(kept_held) / len(rows) < 0.35


def test_position_is_pinned():
    # A fixed value: a changed split would silently mix evaluation documents into training.
    assert heldout_fraction_position("dokujo-tsushin-4778030") == 0.6027464476515582
