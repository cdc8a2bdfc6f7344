"""Two guarded rewrites of the C++ that Brian2 2.9 generates for the standalone project.

Both keep the simulation exactly as Brian2 defines it (same operations in the same order,
so the same floating-point results); they remove work that this network does not need.
Each is a text replacement that checks its anchors first and returns the code unchanged
when they differ (another Brian2 version): the project then runs as generated, only slower.
The oracle tests (``tests/test_spiking_network.py``) compare the standalone spikes with the
numpy runtime and with a plain numpy simulation, so a rewrite that went wrong would fail them.

1. :func:`untimed_step_loop`: ``Network::run`` reads the process CPU clock after every
   time step only to report the elapsed time after the loop; the read is moved after it.
2. :func:`dense_pathway` and :func:`no_push`: a synaptic pathway whose synapses are
   all-to-all in presynaptic-major order (``network.synapse_indices``) does not need the
   spike queue.  Brian2 copies, for every presynaptic spike, the indices of all its
   synapses into a queue and then loops over them with two indirections per event.  Here
   the pre code loops over the spiking neurons of the source group (its ``spikespace``,
   sorted as the queue is) and, for each, over its contiguous block of synapses; when the
   block holds every target neuron in order the target index is the offset in the block,
   so the inner loop is a plain vector update that the compiler vectorises.  The queue
   push of that pathway is removed.  The feed-forward pathway carries ~90 % of all
   synaptic events of a sample (every input spike reaches all N coding neurons).

:func:`patched_writer` applies them while Brian2 writes the project (a patch of its C++
writer, active only inside the ``with`` block); :mod:`.build_cache` uses it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

__all__ = ["DensePathway", "untimed_step_loop", "dense_pathway", "no_push", "patched_writer", "MARKER"]

MARKER = "attractorlab dense pathway"

_STEP_CLOCK = """
        current = std::clock();
        elapsed_realtime = (double)(current - start)/(1 * CLOCKS_PER_SEC);
"""
_AFTER_LOOP = """    Network::_globally_running = false;
"""


def untimed_step_loop(code: str) -> str:
    """``network.cpp`` with the per-step clock read moved after the main loop."""
    if code.count(_STEP_CLOCK) != 1 or code.count(_AFTER_LOOP) != 1:
        return code
    return code.replace(_STEP_CLOCK, "\n").replace(_AFTER_LOOP, _AFTER_LOOP + _STEP_CLOCK)


@dataclass(frozen=True)
class DensePathway:
    """A pathway ``<synapses>_pre`` whose synapses are all-to-all, presynaptic-major.

    ``n_source`` presynaptic neurons of group ``source``, ``per_source`` synapses each;
    ``ordered_targets``: the block of a source neuron holds targets 0..per_source-1 in
    order (False when self-connections are excluded)."""

    synapses: str
    source: str
    n_source: int
    per_source: int
    ordered_targets: bool

    @property
    def code_file(self) -> str:
        return f"code_objects/{self.synapses}_pre_codeobject.cpp"

    @property
    def push_file(self) -> str:
        return f"code_objects/{self.synapses}_pre_push_spikes.cpp"


_QUEUE_LOOP = re.compile(
    r"(?P<indent>[ \t]*)std::vector<int> \*_spiking_synapses = (?P<path>\w+)\.peek\(\);\n"
    r"[ \t]*const int _num_spiking_synapses = _spiking_synapses->size\(\);\n"
    r"\s*\{\n"
    r"[ \t]*for\(int _spiking_synapse_idx=0;\n"
    r"[ \t]*_spiking_synapse_idx<_num_spiking_synapses;\n"
    r"[ \t]*_spiking_synapse_idx\+\+\)\n"
    r"[ \t]*\{\n"
    r"[ \t]*const size_t _idx = \(\*_spiking_synapses\)\[_spiking_synapse_idx\];\n"
    r"(?P<body>(?:.*\n)*?)"
    r"(?P<close>[ \t]*\}\n[ \t]*\}\n[ \t]*\}\n)"
)


def dense_pathway(code: str, p: DensePathway) -> str:
    """Pre code of pathway ``p`` looping over source spikes and contiguous synapse blocks.

    Returns ``code`` unchanged if the generated loop is not the expected one."""
    matches = list(_QUEUE_LOOP.finditer(code))
    if len(matches) != 1 or matches[0].group("path") != f"{p.synapses}_pre":
        return code
    m = matches[0]
    body = m.group("body")
    post_line = re.compile(
        rf"const int32_t _postsynaptic_idx = _ptr_array_{p.synapses}__synaptic_post\[_idx\];")
    if len(post_line.findall(body)) != 1 or "_spiking_synapse" in body:
        return code
    if p.ordered_targets:
        body = post_line.sub("const size_t _postsynaptic_idx = _idx - _dense_first;", body)
    n_syn = p.n_source * p.per_source
    new = f"""{m.group('indent')}// {MARKER}: {p.n_source} x {p.per_source} synapses, presynaptic-major
    const int32_t* const _dense_spikes = _array_{p.source}__spikespace;
    const int _dense_n_spikes = _dense_spikes[{p.n_source}];
    if (_dynamic_array_{p.synapses}__synaptic_post.size() != (size_t){n_syn})
    {{
        std::cerr << "attractorlab: pathway {p.synapses} is not all-to-all ({n_syn} synapses)" << std::endl;
        std::exit(3);
    }}
    {{
        for(int _dense_s=0; _dense_s<_dense_n_spikes; _dense_s++)
        {{
        const size_t _dense_first = (size_t)_dense_spikes[_dense_s] * {p.per_source};
        const size_t _dense_last = _dense_first + {p.per_source};
        for(size_t _idx=_dense_first; _idx<_dense_last; _idx++)
        {{
{body}        }}
{m.group('close')}"""
    return code[:m.start()] + new + code[m.end():]


def no_push(code: str, p: DensePathway) -> str:
    """Push code of pathway ``p`` without the queue push (its pre code reads the spikespace)."""
    push = re.compile(rf"\n[ \t]*{p.synapses}_pre\.push\([^;\n]*\);")
    if len(push.findall(code)) != 1:
        return code
    return push.sub(f"\n        // {MARKER}: no queue push (pre code reads the spikespace)", code)


@contextlib.contextmanager
def patched_writer(pathways: Sequence[DensePathway] = ()) -> Iterator[set[str]]:
    """Write the generated project through the rewrites of this module, and keep an
    existing generated file whose lines differ from the new code only in order.

    Brian2 2.9 emits some initialisation lines (one per clock) by iterating over a set of
    objects, so two processes generate the same program with lines in a different order;
    without this, every new process would rewrite ``main.cpp`` and recompile.  Yields the
    set of files a dense-pathway rewrite was applied to.
    """
    from brian2.devices.cpp_standalone.device import CPPWriter

    orig = CPPWriter.write
    by_file = {}
    for p in pathways:
        by_file[p.code_file] = (dense_pathway, p)
        by_file[p.push_file] = (no_push, p)
    rewritten: set[str] = set()

    def write(self, filename, contents):  # noqa: ANN001
        if isinstance(contents, str) and filename == "network.cpp":
            contents = untimed_step_loop(contents)
        if isinstance(contents, str) and filename in by_file:
            rewrite, p = by_file[filename]
            new = rewrite(contents, p)
            if new != contents:
                rewritten.add(filename)
            contents = new
        if isinstance(contents, str):
            full = os.path.join(self.project_dir, filename)
            if os.path.exists(full):
                with open(full) as f:
                    old = f.read()
                if old != contents and sorted(old.splitlines()) == sorted(contents.splitlines()):
                    contents = old
        return orig(self, filename, contents)

    CPPWriter.write = write
    try:
        yield rewritten
    finally:
        CPPWriter.write = orig
