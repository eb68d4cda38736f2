"""Evaluation protocols: the 300VW test categories (Shen et al. 2015; the paper reports category C)."""

_300VW_CATEGORIES = {
    "A": "114 124 125 126 150 158 401 402 505 506 507 508 509 510 511 514 515 518 519 520 521 522 524 525 "
         "537 538 540 541 546 547 548",
    "B": "203 208 211 212 213 214 218 224 403 404 405 406 407 408 409 412 550 551 553",
    "C": "410 411 516 517 526 528 529 530 531 533 557 558 559 562",
}
CATEGORIES_300VW = {name: tuple(f"{int(v):03d}" for v in ids.split()) for name, ids in _300VW_CATEGORIES.items()}


def category_of(video_id):
  """'A', 'B', 'C' for a 300VW test video id (any zero padding), or None for training videos."""
  key = f"{int(video_id):03d}"
  return next((name for name, ids in CATEGORIES_300VW.items() if key in ids), None)
