"""XDMF sidecar of a 2D run log, so ParaView (or any XDMF 3 reader) opens the time series.

``run.xdmf`` describes a temporal collection over the logged rows; ``run.xdmf.h5`` holds the
mesh (the nodal evaluation grid as quadrilaterals: ``/points`` (N, 2), ``/cells`` (M, 4);
point ``k = i * ny + j`` is ``(x[i], y[j])``) and, per row ``r``, one HDF5 *virtual dataset*
``/rows/<r>/<name>`` of shape ``(N, k)`` that maps row ``r`` of ``run.h5:/<name>`` (no data
is copied). The layout is meshio's XDMF time-series layout (one mesh, included by every
step), which ParaView's XDMF readers open.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import h5py
import numpy as np

XI = "http://www.w3.org/2001/XInclude"
MESH_POINTER = 'xpointer(//Grid[@Name="mesh"]/*[self::Topology or self::Geometry])'


def sidecar_paths(log_path: Path) -> tuple[Path, Path]:
    """``run.xdmf`` and ``run.xdmf.h5`` beside ``log_path``."""
    return log_path.with_suffix(".xdmf"), log_path.with_suffix(".xdmf.h5")


def _quads(nx: int, ny: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    k = (i * ny + j).ravel()
    return np.stack([k, k + ny, k + ny + 1, k + 1], axis=1).astype(np.int64)


def _item(parent: ET.Element, shape: tuple[int, ...], dtype: np.dtype, ref: str) -> None:
    kind = "Int" if np.dtype(dtype).kind in "iu" else "Float"
    ET.SubElement(
        parent,
        "DataItem",
        Dimensions=" ".join(map(str, shape)),
        NumberType=kind,
        Precision=str(np.dtype(dtype).itemsize),
        Format="HDF",
    ).text = ref


def _attribute_type(k: int) -> str:
    return "Scalar" if k == 1 else "Vector" if k in (2, 3) else "Matrix"


def _mesh(domain: ET.Element, cells: np.ndarray, n: int, side: str) -> None:
    """The shared quadrilateral mesh (points and cells live in the sidecar ``side``)."""
    mesh = ET.SubElement(domain, "Grid", Name="mesh", GridType="Uniform")
    topo = ET.SubElement(
        mesh,
        "Topology",
        TopologyType="Quadrilateral",
        NumberOfElements=str(len(cells)),
        NodesPerElement="4",
    )
    _item(topo, cells.shape, cells.dtype, f"{side}:/cells")
    geo = ET.SubElement(mesh, "Geometry", GeometryType="XY")
    _item(geo, (n, 2), np.dtype(np.float64), f"{side}:/points")


def _row(
    series: ET.Element,
    out: h5py.File,
    h5: h5py.File,
    log_name: str,
    side: str,
    r: int,
    t: float,
    fields: list[str],
    n: int,
) -> None:
    """Step ``r``: one grid whose attributes are virtual datasets over row ``r`` of the log."""
    grid = ET.SubElement(series, "Grid", Name=f"step_{r}", GridType="Uniform")
    ET.SubElement(grid, f"{{{XI}}}include", xpointer=MESH_POINTER)
    ET.SubElement(grid, "Time", Value=repr(t))
    for nm in fields:
        src_ds = h5[nm]
        k = int(np.prod(src_ds.shape[3:], dtype=np.int64))
        lay = h5py.VirtualLayout(shape=(n, k), dtype=src_ds.dtype)
        lay[:] = h5py.VirtualSource(log_name, "/" + nm, shape=src_ds.shape)[r]
        path = f"rows/{r}/{nm.replace('/', '_')}"
        out.create_virtual_dataset(path, lay, fillvalue=np.nan)
        att = ET.SubElement(
            grid,
            "Attribute",
            Name=nm.replace("/", "_"),
            AttributeType=_attribute_type(k),
            Center="Node",
        )
        _item(att, (n, k), src_ds.dtype, f"{side}:/{path}")


def write_xdmf(h5: h5py.File, log_path: Path, rows: int, names: list[str]) -> Path | None:
    """Write the sidecar of the 2D log ``h5`` (open for reading, at ``log_path``) for its
    first ``rows`` rows of the per-step datasets ``names``; None when the log is not 2D.

    Both files are written under temporary names and renamed into place.
    """
    axes = [h5[f"grid/{a}"][()] for a in ("x", "y", "z") if f"grid/{a}" in h5]
    if len(axes) != 2:
        return None
    nx, ny = (len(a) for a in axes)
    n = nx * ny
    fields = [nm for nm in names if nm not in ("step", "time") and h5[nm].shape[1:3] == (nx, ny)]
    xml_path, side = sidecar_paths(log_path)
    times = h5["time"][:rows] if "time" in h5 else np.arange(rows, dtype=np.float64)
    tmp_side, tmp_xml = (
        side.with_name(side.name + ".tmp"),
        xml_path.with_name(xml_path.name + ".tmp"),
    )
    try:
        root = ET.Element("Xdmf", Version="3.0")
        domain = ET.SubElement(root, "Domain")
        cells = _quads(nx, ny)
        _mesh(domain, cells, n, side.name)
        series = ET.SubElement(
            domain, "Grid", Name="TimeSeries", GridType="Collection", CollectionType="Temporal"
        )
        with h5py.File(tmp_side, "w", libver="latest", locking=False) as out:
            xx, yy = np.meshgrid(*axes, indexing="ij")
            out.create_dataset("points", data=np.stack([xx.ravel(), yy.ravel()], axis=1))
            out.create_dataset("cells", data=cells)
            for r in range(rows):
                _row(series, out, h5, log_path.name, side.name, r, float(times[r]), fields, n)
        ET.register_namespace("xi", XI)
        ET.ElementTree(root).write(tmp_xml, xml_declaration=True, encoding="utf-8")
        os.replace(tmp_side, side)
        os.replace(tmp_xml, xml_path)
    finally:
        for t in (tmp_side, tmp_xml):
            with contextlib.suppress(OSError):
                t.unlink()
    return xml_path
