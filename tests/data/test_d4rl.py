"""D4RL-layout files: transition rules, real file variants, cache lookup, download and bad input."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers.d4rl_files import rollout_arrays, write_d4rl_file

from ramac.data import d4rl
from ramac.data.d4rl import d4rl_stem, d4rl_transitions, locate_d4rl, read_d4rl_file
from ramac.data.statistics import dataset_statistics


def hand_arrays() -> dict[str, np.ndarray]:
    """10 rows: episode A = rows 0-3 (terminal at 3), episode B = rows 4-6 (time limit at 6), rows 7-9
    an unfinished episode. Observation row i is [i, 10 i]; next_observations row i is [i + .5, ...]."""
    i = np.arange(10, dtype=np.float64)
    return {
        "observations": np.stack([i, 10 * i], 1),
        "actions": np.stack([-i, i / 10], 1),
        "rewards": i + 100,
        "next_observations": np.stack([i + 0.5, 10 * i + 0.5], 1),
        "terminals": np.isin(np.arange(10), [3]),
        "timeouts": np.isin(np.arange(10), [6]),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_next", [True, False])
def test_following_row_rule_matches_qlearning_dataset(tmp_path, dtype, with_next):
    path = write_d4rl_file(tmp_path / "f.hdf5", hand_arrays(), dtype=dtype, next_observations=with_next)
    t = d4rl_transitions(read_d4rl_file(path), str(path), "following_row")
    kept = [0, 1, 2, 3, 4, 5, 7, 8]  # rows 0..8, minus the timeout row 6; the last row is dropped
    assert len(t) == 8
    assert t.observations[:, 0].tolist() == kept
    # the following row, except at the terminal row 3, whose true next state is the stored one when the
    # file has it (qlearning_dataset would give row 4, the next episode's first state)
    assert t.next_observations[:, 0].tolist() == [1, 2, 3, 3.5 if with_next else 4, 5, 6, 8, 9]
    assert t.terminal_next == ("stored" if with_next else "following row")
    assert t.rewards.tolist() == [k + 100 for k in kept]
    assert t.actions[:, 0].tolist() == [-k for k in kept]
    assert t.terminals.tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert t.episode_ends.tolist() == [0, 0, 0, 1, 0, 1, 0, 0]  # row 5 precedes the time-limit row
    assert t.observations.dtype == np.float32
    stats = dataset_statistics(t)
    assert stats["episodes"] == 2 and stats["unfinished_steps"] == 2
    assert stats["return_max"] == pytest.approx(100 + 101 + 102 + 103)
    assert stats["return_min"] == pytest.approx(104 + 105)


def test_terminal_rows_without_stored_next_state_are_re_simulated(tmp_path):
    raw = read_d4rl_file(write_d4rl_file(tmp_path / "f.hdf5", hand_arrays(), next_observations=False))
    calls = []

    def simulate(obs, actions):
        calls.append((obs.copy(), actions.copy()))
        return obs + 0.25

    t = d4rl_transitions(raw, "f.hdf5", "following_row", simulate)
    assert t.terminal_next == "re-simulated"
    assert t.next_observations[:, 0].tolist() == [1, 2, 3, 3.25, 5, 6, 8, 9]
    (obs, actions), = calls  # one call, with the terminal row only
    assert obs[:, 0].tolist() == [3] and actions[:, 0].tolist() == [-3]
    with_next = read_d4rl_file(write_d4rl_file(tmp_path / "g.hdf5", hand_arrays()))
    assert d4rl_transitions(with_next, "g.hdf5", "following_row", simulate).terminal_next == "stored"
    assert len(calls) == 1  # the stored next state wins


def test_stored_rule_keeps_timeout_rows(tmp_path):
    path = write_d4rl_file(tmp_path / "f.hdf5", hand_arrays(), dtype=np.float64)
    t = d4rl_transitions(read_d4rl_file(path), str(path), "stored")
    assert len(t) == 10
    assert t.next_observations[:, 0].tolist() == [i + 0.5 for i in range(10)]
    assert t.terminals.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]  # a time limit is not a terminal
    assert t.episode_ends.tolist() == [0, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    raw = read_d4rl_file(write_d4rl_file(tmp_path / "g.hdf5", hand_arrays(), next_observations=False))
    with pytest.raises(KeyError, match="next_observations"):
        d4rl_transitions(raw, "g.hdf5", "stored")


def test_real_rollout_file_counts(tmp_path):
    arrays = rollout_arrays(episodes=8, max_steps=30)
    n = len(arrays["rewards"])
    path = write_d4rl_file(tmp_path / "hopper.hdf5", arrays, dtype=np.float64)
    t = d4rl_transitions(read_d4rl_file(path), str(path))
    assert len(t) == n - 1 - int(arrays["timeouts"][: n - 1].sum())
    assert t.terminals.sum() == arrays["terminals"][: n - 1].sum()
    assert dataset_statistics(t)["episodes"] == int(arrays["terminals"][: n - 1].sum() + arrays["timeouts"].sum())
    assert np.allclose(t.rewards.sum(), arrays["rewards"][: n - 1][~arrays["timeouts"][: n - 1]].sum(), rtol=1e-5)


def test_stem_and_cache_lookup(tmp_path, monkeypatch):
    assert d4rl_stem("hopper", "medium-replay") == "hopper_medium_replay-v2"
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path))
    write_d4rl_file(tmp_path / "walker2d_medium_expert-v2.hdf5", hand_arrays())
    assert locate_d4rl("walker2d", "medium-expert", download=False) == tmp_path / "walker2d_medium_expert-v2.hdf5"
    with pytest.raises(FileNotFoundError, match=r"Put the file at .*hopper_medium-v2\.hdf5"):
        locate_d4rl("hopper", "medium", download=False)


def test_download_is_atomic_and_failures_say_where_to_put_the_file(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    write_d4rl_file(served / "hopper_medium-v2.hdf5", hand_arrays())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
        monkeypatch.setattr(d4rl, "D4RL_URL", f"http://127.0.0.1:{server.server_port}/{{stem}}.hdf5")
        path = locate_d4rl("hopper", "medium")
        assert path.read_bytes() == (served / "hopper_medium-v2.hdf5").read_bytes()
        assert not list((tmp_path / "cache").glob("*.part"))
        with pytest.raises(FileNotFoundError, match=r"could not download .*Put the file at"):
            locate_d4rl("hopper", "expert")  # 404
    finally:
        server.shutdown()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("D4RL_DATASET_DIR", str(blocker / "sub"))
    with pytest.raises(PermissionError, match="cannot create the D4RL cache directory"):
        locate_d4rl("hopper", "medium")


def _broken(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.hdf5"
    arrays = hand_arrays()
    if case == "missing_key":
        del arrays["timeouts"]
    elif case == "short_actions":
        arrays["actions"] = arrays["actions"][:-1]
    elif case == "rewards_2d":
        arrays["rewards"] = arrays["rewards"][:, None]
    elif case == "nan":
        arrays["observations"][4, 1] = np.nan
    elif case == "next_obs_shape":
        arrays["next_observations"] = arrays["next_observations"][:, :1]
    elif case == "terminal_values":
        arrays["terminals"] = np.full(10, 2.0)
    if case == "terminal_values":
        with h5py.File(path, "w") as f:
            for key, value in arrays.items():
                f.create_dataset(key, data=value)
        return path
    if case == "strings":
        write_d4rl_file(path, arrays)
        with h5py.File(path, "a") as f:
            del f["rewards"]
            f.create_dataset("rewards", data=np.array([b"x"] * 10))
        return path
    if case == "empty":
        path.write_bytes(b"")
        return path
    if case == "truncated":
        write_d4rl_file(path, arrays)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
        return path
    if case == "not_hdf5":
        path.write_text("observations,actions\n1,2\n")
        return path
    if case == "no_rows":
        arrays = {k: v[:0] for k, v in arrays.items()}
    return write_d4rl_file(path, arrays, dtype=np.float64)


@pytest.mark.parametrize(("case", "error", "message"), [
    ("missing_key", KeyError, r"missing key\(s\) \['timeouts'\]"),
    ("short_actions", ValueError, r"'actions' must have shape \[R, dim\] with R = 10"),
    ("rewards_2d", ValueError, r"'rewards' must have shape \[R\]"),
    ("nan", ValueError, r"'observations' contains NaN or inf \(first at row 4\)"),
    ("next_obs_shape", ValueError, r"'next_observations' shape"),
    ("terminal_values", ValueError, r"'terminals' must hold only 0/1"),
    ("strings", ValueError, r"'rewards' must be numeric"),
    ("empty", ValueError, r"the file is empty"),
    ("truncated", ValueError, r"truncated or corrupt"),
    ("not_hdf5", ValueError, r"not a readable HDF5 file"),
    ("no_rows", ValueError, r"holds no transitions"),
])
def test_bad_files_fail_naming_file_and_key(tmp_path, case, error, message):
    path = _broken(tmp_path, case)
    with pytest.raises(error, match=message) as err:
        d4rl_transitions(read_d4rl_file(path), str(path))
    assert path.name in str(err.value)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown D4RL dataset 'medium-random'"):
        d4rl_stem("hopper", "medium-random")
    with pytest.raises(ValueError, match="unknown D4RL environment 'ant'"):
        d4rl_stem("ant", "medium")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_d4rl_file("/nonexistent/file.hdf5")
