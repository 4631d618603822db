"""A live viewer in the browser (viser, the optional extra ``nerfspec[viewer]``).

Modules: camera.py (browser camera <-> nerfspec camera), frames.py (one frame from
``render_image``; preview and refined widths), scene.py (frustums, box, grid, mesh),
panel.py (the side panel), server.py (the viser server and its render loop), live.py (the
viewer of a finished run and the training hook). Nothing here is imported by training unless
``--viewer`` asks for it.
"""
