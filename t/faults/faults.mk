# make test-faults: fault injection under load in a private stack
# (t/faults/run.sh; FAULTS_ARGS="--only 1,3" for some faults only).
.PHONY: test-faults
test-faults: all
	t/faults/run.sh
