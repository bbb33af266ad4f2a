# mixprec: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
MODELS := Calibration/models
DEFAULT_MODEL := $(MODELS)/ch_ppocr_mobile_v2.0_cls_infer.onnx
REC_MODEL := $(MODELS)/ch_PP-OCRv4_rec_infer.onnx
DET_MODEL := $(MODELS)/ch_PP-OCRv4_det_infer.onnx
ENC_MODEL := $(MODELS)/all-MiniLM-L6-v2.onnx
APT_PACKAGES := protobuf-compiler libopenblas-dev libgsl-dev libglpk-dev python3-venv chromium slurm-wlm munge

.PHONY: deps venv data build demo test bench quality clean fuzz-build fuzz fuzz-smoke

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
	.build/release/mixprec bench model $(DEFAULT_MODEL) --shape x=1x3x48x192 --calib Calibration/cls-calib | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.bench.txt
	.build/release/mixprec bench kernels | tee Reports/kernels.bench.txt
	.build/release/mixprec tune $(DEFAULT_MODEL) --calib Calibration/cls-calib --eval Calibration/cls-eval --compression 6x \
	  --plan Reports/ch_ppocr_mobile_v2.0_cls_infer.plan.json --export Reports/ch_ppocr_mobile_v2.0_cls_infer.mixed.onnx \
	  --report Reports/ch_ppocr_mobile_v2.0_cls_infer.html | tee Reports/ch_ppocr_mobile_v2.0_cls_infer.tune.txt

# The whole test suite (unit tests, real-model cross-checks against ONNX Runtime, CLI tests);
# the cross-checks run once more on the scalar kernel twins. The full run comes last so its
# summary closes the output.
# A suite that hangs fails with a message instead of running into CI's limit (it takes ~10 min).
TEST_TIME_LIMIT := timeout --kill-after=30 2700
test: data
	swift build --build-tests
	MIXPREC_ISA=scalar $(TEST_TIME_LIMIT) swift test --skip-build --disable-swift-testing --filter 'RealModelTests|ConvTests'
	$(MAKE) fuzz-smoke
	$(TEST_TIME_LIMIT) swift test --skip-build --disable-swift-testing

bench: data build
	.build/release/mixprec bench kernels
	.build/release/mixprec bench analyze
	.build/release/mixprec bench analyze $(REC_MODEL) --calib Calibration/rec-calib --samples 64
	.build/release/mixprec bench solver
	.build/release/mixprec bench model $(DEFAULT_MODEL) --shape x=1x3x48x192 --calib Calibration/cls-calib
	.build/release/mixprec bench model $(REC_MODEL) --shape x=1x3x48x320 --calib Calibration/rec-calib
	.build/release/mixprec bench model $(DET_MODEL) --shape x=1x3x640x640 --calib Calibration/det-calib
	.build/release/mixprec bench model $(ENC_MODEL) --shape input_ids=1x32 --shape attention_mask=1x32 --shape token_type_ids=1x32 --calib Calibration/enc-calib

# Quality next to ONNX Runtime's own static INT8 (MinMax, Percentile), both scored by ONNX Runtime
# on held-out data: the encoder's embeddings (cosine; at 4x and at 4.2x, whose file is smaller than
# ORT's) and the detector's map (mask IoU, box recall) at 4x, each also with dynamic activation
# ranges (beside ORT's quantize_dynamic for the encoder).
quality: data build
	mkdir -p Reports/quality
	.build/release/mixprec tune $(ENC_MODEL) --calib Calibration/enc-calib --eval Calibration/enc-eval --compression 4x \
	  --plan Reports/quality/enc.plan.json --export Reports/quality/enc.onnx
	.build/release/mixprec tune $(ENC_MODEL) --calib Calibration/enc-calib --eval Calibration/enc-eval --compression 4.2x \
	  --plan Reports/quality/enc-4.2x.plan.json --export Reports/quality/enc-4.2x.onnx
	.build/release/mixprec tune $(ENC_MODEL) --calib Calibration/enc-calib --eval Calibration/enc-eval --compression 4x \
	  --activation-ranges dynamic --plan Reports/quality/enc-dynamic.plan.json --export Reports/quality/enc-dynamic.onnx
	$(PY) Calibration/ort_quality.py $(ENC_MODEL) --calib Calibration/enc-calib --eval Calibration/enc-eval \
	  --output sentence_embedding --kind embedding --dynamic --ours "mixprec 4x=Reports/quality/enc.onnx" \
	  --ours "mixprec 4.2x=Reports/quality/enc-4.2x.onnx" --ours "mixprec 4x dynamic=Reports/quality/enc-dynamic.onnx"
	.build/release/mixprec tune $(DET_MODEL) --calib Calibration/det-calib --eval Calibration/det-eval --compression 4x \
	  --plan Reports/quality/det.plan.json --export Reports/quality/det.onnx
	.build/release/mixprec tune $(DET_MODEL) --calib Calibration/det-calib --eval Calibration/det-eval --compression 4x \
	  --activation-ranges dynamic --plan Reports/quality/det-dynamic.plan.json --export Reports/quality/det-dynamic.onnx
	$(PY) Calibration/ort_quality.py $(DET_MODEL) --calib Calibration/det-calib --eval Calibration/det-eval \
	  --output sigmoid_0.tmp_0 --kind mask --ours "mixprec 4x=Reports/quality/det.onnx" \
	  --ours "mixprec 4x dynamic=Reports/quality/det-dynamic.onnx"

# libFuzzer targets for the loaders (Fuzz/, its own package: libFuzzer supplies the driver). Each
# runs FUZZ_SECONDS from the seeds in Fuzz/Corpus/<target> (a working copy in Fuzz/.corpus keeps
# what it learns); a crash leaves its input in Fuzz/.artifacts and fails the target.
FUZZ_TARGETS := FuzzONNX FuzzNPY FuzzPlan FuzzAnalysis
FUZZ_SECONDS ?= 600
FUZZ_FLAGS := -c debug -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address

fuzz-build: deps
	cd Fuzz && for t in $(FUZZ_TARGETS); do \
	  swift build $(FUZZ_FLAGS) --product $$t 2>&1 | grep -Ev "warning: Cannot export local symbol"; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

fuzz: fuzz-build
	mkdir -p Fuzz/.artifacts
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p Fuzz/.corpus/$$t && cp Fuzz/Corpus/$$t/* Fuzz/.corpus/$$t/; \
	  ASAN_OPTIONS=detect_leaks=0 Fuzz/.build/debug/$$t -max_total_time=$(FUZZ_SECONDS) -seed=1 -max_len=65536 -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 \
	    -artifact_prefix=Fuzz/.artifacts/$$t- Fuzz/.corpus/$$t 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR|SUMMARY|Done)" ; \
	  test $${PIPESTATUS[0]} -eq 0; \
	done

# A short run of each target on the fixed seeds (part of `make test`).
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=30

clean:
	rm -rf .build Reports/*.txt Reports/*.json Reports/*.onnx Reports/*.npz Reports/*.html Reports/cls-eval-fp32
