from tsal_tf.data import protocols


def test_300vw_category_table():
  assert {k: len(v) for k, v in protocols.CATEGORIES_300VW.items()} == {"A": 31, "B": 19, "C": 14}
  ids = [v for ids in protocols.CATEGORIES_300VW.values() for v in ids]
  assert len(ids) == len(set(ids)) == 64
  assert protocols.category_of("410") == "C" and protocols.category_of(114) == "A"
  assert protocols.category_of("001") is None
