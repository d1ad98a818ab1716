"""Clinical read-out of chamber masks (ASE/EACVI chamber quantification, Lang et al. 2015)."""
