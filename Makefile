# mixprec: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
MODELS := Calibration/models
DEFAULT_MODEL := $(MODELS)/ch_ppocr_mobile_v2.0_cls_infer.onnx
REC_MODEL := $(MODELS)/ch_PP-OCRv4_rec_infer.onnx
APT_PACKAGES := protobuf-compiler libopenblas-dev libgsl-dev libglpk-dev python3-venv chromium

.PHONY: deps venv data build demo test bench clean

# System libraries (Debian). Installs only what is missing; needs root or sudo.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=$$( [ $$(id -u) = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

venv: .venv/.ok
.venv/.ok: Calibration/requirements.txt
	python3 -m venv .venv
	$(PY) -m pip install -q -r Calibration/requirements.txt
	touch $@

# Models from PyPI and rendered calibration/evaluation sets (idempotent).
data: deps venv
	$(PY) Calibration/prepare

build: deps
	swift build -c release

# The main job on the built-in default model; writes Reports/.
demo: data build
	mkdir -p Reports
	.build/release/mixprec inspect $(DEFAULT_MODEL) --shape x=1x3x48x192 | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.inspect.txt
	.build/release/mixprec run $(DEFAULT_MODEL) --input Calibration/cls-eval --output Reports/cls-eval-fp32 | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.run.txt
	.build/release/mixprec bench model $(DEFAULT_MODEL) --shape x=1x3x48x192 | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.bench.txt
	.build/release/mixprec bench kernels | tee Reports/kernels.bench.txt
	.build/release/mixprec tune $(DEFAULT_MODEL) --calib Calibration/cls-calib --eval Calibration/cls-eval --compression 6x \
	  --plan Reports/ch_ppocr_mobile_v2.0_cls_infer.plan.json --export Reports/ch_ppocr_mobile_v2.0_cls_infer.mixed.onnx \
	  --report Reports/ch_ppocr_mobile_v2.0_cls_infer.html | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.tune.txt

# The whole test suite (unit tests, real-model cross-checks against ONNX Runtime, CLI tests);
# the cross-checks run once more on the scalar kernel twins. The full run comes last so its
# summary closes the output.
test: data
	swift build --build-tests
	MIXPREC_ISA=scalar swift test --skip-build --disable-swift-testing --filter 'RealModelTests|ConvTests'
	swift test --skip-build --disable-swift-testing

bench: data build
	.build/release/mixprec bench kernels
	.build/release/mixprec bench analyze
	.build/release/mixprec bench analyze $(REC_MODEL) --calib Calibration/rec-calib --samples 64
	.build/release/mixprec bench solver
	.build/release/mixprec bench model $(DEFAULT_MODEL) --shape x=1x3x48x192
	.build/release/mixprec bench model $(REC_MODEL) --shape x=1x3x48x320

clean:
	rm -rf .build Reports/*.txt Reports/*.json Reports/*.onnx Reports/*.npz Reports/*.html Reports/cls-eval-fp32
