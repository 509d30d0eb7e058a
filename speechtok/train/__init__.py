"""Training speechtok codecs: `speechtok train CONFIG.yaml [--resume]`."""
