# Two commands on a fresh machine:  `make demo` (main job)  and  `make test` (the tests).
# Each installs what it needs: system packages (apt, when missing) and a virtualenv in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := ffmpeg libopus0 libcodec2-1.0 espeak-ng flite

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
	$(BIN)/pip install -q -e ".[bench,test]"
	touch $@

venv: system $(BIN)/.installed

demo: venv
	$(BIN)/speechtok demo

test: venv
	$(BIN)/python -m pytest -x --timeout=600

clean:
	rm -rf $(VENV) *.egg-info
