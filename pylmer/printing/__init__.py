"""R's printing: number formatting and the layouts of lme4's and R's printed tables."""
