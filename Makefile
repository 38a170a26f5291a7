# mmfss: `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
INSTALL_STAMP := $(VENV)/.mmfss-install
TEST_STAMP := $(VENV)/.mmfss-test-deps
WEB_STAMP := $(VENV)/.mmfss-web-deps
DEMO_CONFIG := configs/baseline/fss-baseline_r18w16-d8_1xb8-1.2k_shapes5i-fold0-1shot.py
DEMO_CHECKPOINT := work_dirs/demo/iter_1200.pth
WEB_ARGS ?=
PYTEST_ARGS ?=
GPU_CHECK_ARGS ?=

.PHONY: install install-tests install-web demo web compare test test-fast check-mmseg-env \
	gpu-check memory-estimate clean

install: $(INSTALL_STAMP)

# the C++ passes of mmfss.ot are compiled by the install: rebuild when they change
$(INSTALL_STAMP): tools/install_env.sh setup.py mmfss/ot/csrc/kernel_passes.cpp
	MMFSS_VENV=$(VENV) bash tools/install_env.sh
	touch $@

install-tests: $(TEST_STAMP)

$(TEST_STAMP): $(INSTALL_STAMP)
	MMFSS_VENV=$(VENV) bash tools/install_env.sh --with-tests
	touch $@

install-web: $(WEB_STAMP)

$(WEB_STAMP): $(INSTALL_STAMP)
	MMFSS_VENV=$(VENV) bash tools/install_env.sh --with-web
	touch $@

demo: install
	$(PYTHON) tools/demo.py

# the web page with the `make demo` model (trained first when its checkpoint is missing);
# WEB_ARGS="--port 8000" etc. go to tools/webui.py
web: install-web
	test -f $(DEMO_CHECKPOINT) || $(PYTHON) tools/demo.py
	$(PYTHON) tools/webui.py $(DEMO_CONFIG) $(DEMO_CHECKPOINT) $(WEB_ARGS)

compare: install
	$(PYTHON) tools/analysis_tools/compare_shapes5i.py

test: install-tests
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

test-fast: install-tests
	$(PYTHON) -m pytest tests -m "not slow" $(PYTEST_ARGS)

# pip install -e . into a fresh environment holding only the stack, then mmseg's own
# tools/train.py and tools/test.py on the demo config (see README, "Install into an existing
# mmseg environment")
check-mmseg-env: install
	bash tools/check_mmseg_env.sh

# every method at its real size on this machine's GPU (step time, test speed, peak memory);
# without CUDA its CPU path on the Shapes-5i configs (CI runs that). GPU_CHECK_ARGS go to
# tools/gpu_check.py (e.g. --skip-tests)
gpu-check: install-tests
	$(PYTHON) tools/gpu_check.py $(GPU_CHECK_ARGS)

# training memory of each paper config at its batch and crop, counted on the meta device
memory-estimate: install
	$(PYTHON) tools/analysis_tools/estimate_memory.py

clean:
	rm -rf $(VENV) work_dirs build *.egg-info mmfss/ot/_kernel_passes*.so
