"""Direct regression tasks on the NeRF fields' input mappings (Tancik et al. 2020, Table 1):
2D image regression (``images``) and 3D shape occupancy (``shapes``), trained by ``optimise``,
run and swept by ``experiment``, reported by ``report``."""
