# Two commands on a fresh machine:  `make demo` (main job)  and  `make test` (the tests).
# Each installs what it needs: system packages (apt, when missing) and a virtualenv in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := ffmpeg libopus0 libcodec2-1.0 espeak-ng flite chromium chromium-driver wamerican fortunes \
  $(foreach l,en es fr it,asterisk-core-sounds-$(l)-g722 asterisk-core-sounds-$(l))

.PHONY: demo test system venv clean

system:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=23" 
	# torch first, pinned: this takes the CPU build on disk instead of a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[bench,hf,lm,ray,serve,test,tts]"
	# these pin torchaudio (or the obsolete `typing`) without needing them: no-deps, needs by hand
	$(BIN)/pip install -q --no-deps resemblyzer==0.1.4 speechtokenizer==1.0.1 s3tokenizer==0.3.0 lion-pytorch==0.2.5
	$(BIN)/pip install -q beartype accelerate onnx
	touch $@

# librosa's numba kernels (F0) compile and cache on first use; doing it once here, in one
# process, keeps parallel metric workers from writing the same cache files at once (a crash seen
# in a fresh venv)
$(BIN)/.numba-warm: $(BIN)/.installed
	$(BIN)/python -c "import numpy as np, librosa; x = np.sin(np.arange(16000) * 0.1).astype('float32'); librosa.yin(x, fmin=50, fmax=500, sr=16000); librosa.pyin(x, fmin=50, fmax=500, sr=16000)"
	touch $@

venv: system $(BIN)/.installed $(BIN)/.numba-warm

demo: venv
	$(BIN)/speechtok demo

test: venv
	$(BIN)/python -m pytest -x --timeout=600

clean:
	rm -rf $(VENV) *.egg-info
