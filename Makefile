# Thin wrapper over CMake and the scripts in scripts/.
.PHONY: all deps build asan demo test bench clean
all: build
deps:
	bash scripts/install-deps.sh
build:
	bash scripts/build.sh release
asan:
	bash scripts/build.sh asan
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench: build
	bash bench/peers/train_speed.sh
clean:
	rm -rf build build-asan
