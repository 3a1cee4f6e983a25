#!/usr/bin/env python3
"""Print a notebook's text outputs and save its images to /tmp/<stem>_<k>.png (for a quick look)."""
import base64
import sys

import nbformat

for path in sys.argv[1:]:
    nb = nbformat.read(path, 4)
    stem = path.rsplit("/", 1)[-1].split(".")[0]
    k = 0
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.outputs:
            if o.output_type == "stream":
                print(">>", o.text[:800])
            elif o.output_type == "error":
                print("ERROR", o.ename, o.evalue)
            elif "data" in o:
                if "image/png" in o.data:
                    k += 1
                    out = f"/tmp/{stem}_{k}.png"
                    open(out, "wb").write(base64.b64decode(o.data["image/png"]))
                    print(">> [image]", out)
                else:
                    print(">>", str(o.data.get("text/plain"))[:300])
