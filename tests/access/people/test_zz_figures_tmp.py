import time
import pytest
from access.people.gallery import DatabaseFeed
from recognition.gallery import Gallery
from tests.access.people.test_gallery_feed import consenting, enroll
from tests.access.conftest import IDENTITIES

@pytest.mark.django_db
def test_figures():
    feed = DatabaseFeed()
    out = []
    for i in range(5):
        p = consenting("A", f"E-{i}")
        enroll(p, IDENTITIES / "Abdullah_Gul" / "1.jpg"); enroll(p, IDENTITIES / "Abdullah_Gul" / "10.jpg")
        g = Gallery(); g.sync(feed)
        p.delete()
        t = time.perf_counter(); assert g.sync(feed); out.append((time.perf_counter() - t) * 1000)
        assert len(g) == 0
    print("\nsync applying a person's erasure (2 samples):", [f"{x:.1f} ms" for x in out])
