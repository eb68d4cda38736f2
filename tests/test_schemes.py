import numpy as np

from tsal_tf.data import schemes


def test_flip_permutations_are_involutions():
  for scheme in schemes.SCHEMES.values():
    perm = np.array(scheme.flip_permutation)
    assert sorted(perm) == list(range(scheme.num_points))
    np.testing.assert_array_equal(perm[perm], np.arange(scheme.num_points))


def test_ibug68_pairs_named_in_the_data_readme():
  perm = schemes.IBUG68.flip_permutation
  assert perm[36] == 45 and perm[0] == 16 and perm[30] == 30 and perm[48] == 54 and perm[62] == 62


def test_flip_twice_is_identity_and_mirrors_x():
  rng = np.random.default_rng(0)
  points = rng.uniform(0, 100, size=(68, 2))
  once = schemes.flip_landmarks(points, 101, schemes.IBUG68)
  np.testing.assert_allclose(once[45], [100 - points[36, 0], points[36, 1]])
  np.testing.assert_allclose(schemes.flip_landmarks(once, 101, schemes.IBUG68), points)


def test_pupils():
  points = np.zeros((68, 2))
  points[36:42] = [[0, 0], [2, 0], [4, 0], [6, 0], [8, 0], [10, 0]]
  points[42:48] = [[20, 6]] * 6
  right, left = schemes.pupils(points)
  np.testing.assert_allclose(right, [5, 0])
  np.testing.assert_allclose(left, [20, 6])
