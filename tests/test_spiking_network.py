"""The Lin & Tang spiking network in Brian2 against the independent numpy oracle.

Brian2 (numpy runtime and C++ standalone) and ``reference.simulate_reference`` integrate
the same discrete equations in the same step order; per-phase spike counts must agree
within one spike per neuron (fast-math may flip a threshold tie), currents to rounding.
The standalone tests share one compiled project (N = 16, M = 8, chunks of 4 samples) in
the build cache (``ATTRACTORLAB_BUILD_DIR``), compiled at most once per machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from attractorlab.models.spiking_dictionary import (
    NetworkParams,
    init_weights,
    run_network,
    simulate_reference,
)
from attractorlab.models.spiking_dictionary import build_cache, codegen, network, runtime
from attractorlab.models.spiking_dictionary.sweeps import run_parallel
from attractorlab.models.spiking_dictionary.weights import SpikingWeights

M, N = 8, 16
CHUNK = 4


def _problem(seed: int, P: int, kind: str = "consistent"):
    w = init_weights(M, N, kind, seed=seed)
    X = np.random.default_rng(100 + seed).uniform(0.0, 1.5, size=(P, M))
    X[X < 0.4] = 0.0
    return X, w


def _assert_matches_oracle(ds, ref):
    T = 20.0
    dc = np.abs(ds.a.values * T - ref["cnt_coding"])
    di = np.abs(ds.b.values * T - ref["cnt_input"])
    assert dc.max() <= 1 and di.max() <= 1, (dc.max(), di.max())
    # the code is not trivial: coding neurons fire in both phases
    assert ref["cnt_coding"].sum(axis=2).min() > 0
    if dc.max() == 0 and di.max() == 0:  # same spikes -> same currents up to rounding
        np.testing.assert_allclose(ds.u.values, ref["u"], atol=1e-9)
        np.testing.assert_allclose(ds.v.values, ref["v"], atol=1e-9)


@pytest.mark.parametrize("seed,kind", [(0, "consistent"), (1, "random")])
def test_numpy_runtime_matches_oracle(seed, kind):
    p = NetworkParams(M, N, lam1=0.1)
    X, w = _problem(seed, 2, kind)
    ds = run_network(X, w, p, device="numpy")
    _assert_matches_oracle(ds, simulate_reference(X, w, p))


def test_float32_option_matches_oracle_and_really_is_float32():
    """``float_dtype="float32"`` (opt-in speed option) stays within one spike per neuron
    per phase of the float64 oracle; currents differ from a float64 run by float32
    rounding only (non-zero, so the option is really applied)."""
    p32 = NetworkParams(M, N, lam1=0.1, float_dtype="float32")
    p64 = NetworkParams(M, N, lam1=0.1)
    assert "float_dtype" not in p64.as_dict() and p32.as_dict()["float_dtype"] == "float32"
    X, w = _problem(0, 2)
    ds32 = run_network(X, w, p32, device="numpy")
    ref = simulate_reference(X, w, p64)
    T = 20.0
    assert np.abs(ds32.a.values * T - ref["cnt_coding"]).max() <= 1
    assert np.abs(ds32.b.values * T - ref["cnt_input"]).max() <= 1
    assert ds32.u.dtype == np.float64
    ds64 = run_network(X, w, p64, device="numpy")
    assert not np.array_equal(ds32.u.values, ds64.u.values)  # the option is really applied
    if np.array_equal(ds32.a.values, ds64.a.values) and np.array_equal(ds32.b.values, ds64.b.values):
        du = np.abs(ds32.u.values - ds64.u.values).max()
        assert 0 < du < 1e-4, du


def test_numpy_runtime_spike_raster_and_dataset():
    p = NetworkParams(M, N, lam1=0.1)
    X, w = _problem(3, 2)
    ds = run_network(X, w, p, device="numpy", record_spikes=True)
    assert ds.a.dims == ("sample", "phase", "neuron")
    assert ds.b.dims == ("sample", "phase", "pixel")
    assert ds.a.attrs["units"] == "spikes per time unit"
    np.testing.assert_allclose(ds.phase.values, [0.0, 0.7])
    assert "lam1" in ds.attrs["params"]
    # the raster has exactly the counted spikes, in the right sample and phase
    T = 20.0
    for layer, var, n in ((1, "a", N), (0, "b", M)):
        sel = ds.spike_layer.values == layer
        t = ds.spike_t.values[sel]
        i = ds.spike_i.values[sel]
        smp = ds.spike_sample.values[sel]
        ph = ((t - smp * 2 * T) >= T).astype(int)
        counts = np.zeros((2, 2, n))
        np.add.at(counts, (smp, ph, i), 1)
        np.testing.assert_array_equal(counts, ds[var].values * T)
    # e = u - theta a
    theta = np.diag(w.H)
    np.testing.assert_allclose(ds.e.values, ds.u.values - theta * ds.a.values)


@pytest.mark.standalone
def test_standalone_matches_oracle_and_never_recompiles():
    p = NetworkParams(M, N, lam1=0.1)
    X, w = _problem(0, 2 * CHUNK + 2)  # 10 samples: two full chunks and a padded one
    ds = run_network(X, w, p, chunk_size=CHUNK)
    assert ds.sizes["sample"] == 2 * CHUNK + 2
    _assert_matches_oracle(ds, simulate_reference(X, w, p))
    build_dir = runtime.current_build_dir()
    assert build_dir is not None and build_dir.is_relative_to(build_cache.build_root())
    # the spikes above came from the dense pathway code (codegen.py), not the spike queue
    for path in build_cache.dense_pathways(p):
        for f in (path.code_file, path.push_file):
            assert codegen.MARKER in (build_dir / f).read_text(), f
    binary = build_dir / "main"
    mtime = binary.stat().st_mtime_ns
    before = dict(runtime.stats)

    # new inputs, weights, lambda_1, gate schedule and sample count: same binary
    for seed, lam1, gamma, P in ((1, 0.05, (0.0, 0.5), 3), (2, 0.2, (0.3, 0.6), 5)):
        p2 = NetworkParams(M, N, lam1=lam1)
        X2, w2 = _problem(seed, P, "random")
        ds2 = run_network(X2, w2, p2, chunk_size=CHUNK, gamma=gamma)
        _assert_matches_oracle(ds2, simulate_reference(X2, w2, p2, gamma=gamma))
        np.testing.assert_allclose(ds2.phase.values, gamma)
    assert runtime.stats["builds"] == before["builds"]
    assert runtime.stats["compiles"] == before["compiles"]
    assert runtime.stats["runs"] == before["runs"] + 1 + 2
    assert binary.stat().st_mtime_ns == mtime

    # padding never leaks: the last chunk's real samples equal a run of them alone
    ds3 = run_network(X[-2:], w, p, chunk_size=CHUNK)
    np.testing.assert_array_equal(ds3.a.values, ds.a.values[-2:])


def _run_small(seed: int) -> np.ndarray:
    p = NetworkParams(M, N, lam1=0.1)
    X, w = _problem(seed, 3)
    return run_network(X, w, p, chunk_size=CHUNK).a.values


@pytest.mark.standalone
def test_run_parallel_separate_processes():
    p = NetworkParams(M, N, lam1=0.1)
    X0, w0 = _problem(0, 3)
    X1, w1 = _problem(1, 3)
    local = [run_network(X, w, p, chunk_size=CHUNK).a.values for X, w in ((X0, w0), (X1, w1))]
    # This process holds the compiled project; the workers use timestamp-preserving copies.
    out = run_parallel(_run_small, [{"seed": 0}, {"seed": 1}])
    assert runtime.current_build_dir() is not None
    np.testing.assert_array_equal(out[0], local[0])
    np.testing.assert_array_equal(out[1], local[1])


# --- validation: ValueError before anything is built ---------------------------------------

@pytest.fixture
def no_build(monkeypatch):
    def boom(*a, **k):  # pragma: no cover - reached only if validation failed to stop
        raise AssertionError("a build was attempted before validation")

    monkeypatch.setattr(runtime, "standalone_project", boom)
    monkeypatch.setattr(runtime, "run_chunk", boom)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_input": 0, "n_coding": 4}, "n_input"),
        ({"n_input": 4, "n_coding": 2.5}, "n_coding"),
        ({"n_input": 4, "n_coding": 4, "kappa": 1.0}, "kappa"),
        ({"n_input": 4, "n_coding": 4, "kappa": -0.1}, "kappa"),
        ({"n_input": 4, "n_coding": 4, "lam1": -1}, "lam1"),
        ({"n_input": 4, "n_coding": 4, "lam1": float("nan")}, "lam1"),
        ({"n_input": 4, "n_coding": 4, "dt": 0.3}, "dt must divide"),
        ({"n_input": 4, "n_coding": 4, "phase_duration": 0}, "phase_duration"),
        ({"n_input": 4, "n_coding": 4, "theta_min": 0}, "theta_min"),
        ({"n_input": 4, "n_coding": 4, "float_dtype": "float16"}, "float_dtype"),
    ],
)
def test_network_params_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetworkParams(**kwargs)


def test_run_network_rejects_bad_input_before_building(no_build):
    p = NetworkParams(M, N)
    X, w = _problem(0, 2)
    bad_X = [np.ones((2, M + 1)), np.full((2, M), np.nan), np.full((2, M), np.inf), -X - 1,
             np.ones((0, M))]
    for Xb in bad_X:
        with pytest.raises(ValueError, match="X"):
            run_network(Xb, w, p)
    for key, shape in (("F", (N, M + 1)), ("B", (N, M)), ("H", (N, N + 1))):
        wb = dict(w.as_dict(), **{key: np.ones(shape)})
        with pytest.raises(ValueError, match=rf"SpikingWeights.{key} must have shape"):
            run_network(X, wb, p)
    for key in ("F", "B", "H", "s"):
        wb = w.as_dict()
        wb[key].flat[0] = -0.5
        with pytest.raises(ValueError, match=rf"SpikingWeights.{key} must be >= 0.*-0.5"):
            run_network(X, wb, p)
    wb = w.as_dict()
    wb["F"][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        run_network(X, wb, p)
    wb = w.as_dict()
    wb["H"][1, 1] = 0.0
    with pytest.raises(ValueError, match="theta"):
        run_network(X, wb, p)
    with pytest.raises(ValueError, match=r"M = 8 inputs and N = 16 atoms; the network has M = 8, N = 15"):
        run_network(X, w, NetworkParams(M, N - 1))
    with pytest.raises(ValueError, match="weights must be a SpikingWeights"):
        run_network(X, [w.F, w.B, w.H], p)
    for gamma in ((0.0, 1.0), (-0.1, 0.5), (0.2,)):
        with pytest.raises(ValueError, match="gamma"):
            run_network(X, w, p, gamma=gamma)
    with pytest.raises(ValueError, match="device"):
        run_network(X, w, p, device="gpu")
    with pytest.raises(ValueError, match="chunk_size"):
        run_network(X, w, p, chunk_size=0)


def test_weight_layout_roundtrip():
    w = init_weights(M, N, "random", seed=5)
    arrs = network.brian_weight_arrays(w)
    back = network.weights_from_brian(arrs["ff"], arrs["fb"], arrs["lat"], arrs["theta"], arrs["s"], N, M)
    assert back.equals(w)
    # presynaptic-major order: the first N ff synapses leave input 0 for coding 0..N-1
    np.testing.assert_array_equal(arrs["ff"][:N], w.F[:, 0])


def test_run_time_values_are_the_same_table_for_both_devices():
    """Every value a run sets comes from network.run_time_values: weights, lambda_1 and,
    for learning, every shared constant of the learning equations."""
    from attractorlab.models.spiking_dictionary import LearningParams

    p = NetworkParams(M, N, lam1=0.25)
    w = init_weights(M, N, "random", seed=1)
    vals = network.run_time_values(p, w)
    assert vals[("coding", "lam1")] == 0.25
    np.testing.assert_array_equal(vals[("coding", "theta")], np.diag(w.H))
    assert set(vals) == {("coding", "theta"), ("coding", "s"), ("coding", "lam1"), ("ff", "w"), ("fb", "w"),
                         ("lat", "w")}
    L = LearningParams(eta_D=0.02, lam2=0.01, lam2_rule="unit_norm", lam2_gain=0.8)
    lv = network.run_time_values(p, w, L.run_values(p_offset=7))
    names = {var for (obj, var) in lv if obj == "coding"}
    # every "(shared, constant)" variable of the learning equations is set at run time
    from attractorlab.models.spiking_dictionary import equations as eq
    constants = {line.split(":")[0].strip() for line in (eq.CODING_EQS + eq.CODING_LEARNING_EQS).splitlines()
                 if "(shared, constant)" in line}
    assert constants <= names, constants - names
    assert lv[("coding", "lam2_gain")] == 0.8 and lv[("coding", "p_offset")] == 7.0
    assert network.run_time_values(p, w, LearningParams(eta_D=0.02).run_values(0))[("coding", "lam2_gain")] == 0.0


def test_spiking_weights_validate_and_freeze():
    w = init_weights(M, N, "consistent", seed=0)
    assert isinstance(w, SpikingWeights) and (w.n_input, w.n_coding) == (M, N)
    with pytest.raises(ValueError):
        w.F[0, 0] = 1.0            # read-only
    d = w.as_dict()
    d["F"][0, 0] = 5.0             # copies
    assert w.F[0, 0] != 5.0
    np.testing.assert_array_equal(SpikingWeights(w.F, w.B, w.H).s, np.diag(w.H))
    for kwargs, match in (({"F": np.ones((N, M + 1))}, r"SpikingWeights.B must have shape \(9, 16\)"),
                          ({"B": np.ones((N, M))}, r"SpikingWeights.B must have shape \(8, 16\)"),
                          ({"H": -np.ones((N, N))}, r"SpikingWeights.H must be >= 0.*-1"),
                          ({"s": np.full(N, np.nan)}, "SpikingWeights.s must be finite"),
                          ({"H": np.zeros((N, N))}, "theta")):
        with pytest.raises(ValueError, match=match):
            w.replace(**kwargs)
    with pytest.raises(ValueError, match="M = 8 inputs and N = 16 atoms"):
        w.check_shape(M + 1, N)


def test_inputs_in_fortran_order_are_accepted():
    """A transposed (non C-contiguous) X is copied to C order before it reaches Brian2."""
    from attractorlab.models.spiking_dictionary.params import NetworkParams, check_inputs

    X = np.asfortranarray(np.random.default_rng(0).random((5, 8)))
    out = check_inputs(X, NetworkParams(n_input=8, n_coding=4))
    assert out.flags["C_CONTIGUOUS"] and np.array_equal(out, X)


def test_codegen_rewrites_leave_unexpected_code_alone():
    path = codegen.DensePathway("ff", "input", 8, 16, True)
    other = "void f() { for(int i=0;i<n;i++) { x[i] += 1; } }\n"
    assert codegen.dense_pathway(other, path) == other
    assert codegen.no_push(other, path) == other
    assert codegen.untimed_step_loop(other) == other
    push = "    {\n        ff_pre.advance();\n        ff_pre.push(_s, _s[8]);\n    }\n"
    out = codegen.no_push(push, path)
    assert "ff_pre.advance();" in out and ".push(" not in out and codegen.MARKER in out
    # another pathway's push is not touched
    assert codegen.no_push(push, codegen.DensePathway("fb", "coding", 16, 8, True)) == push
