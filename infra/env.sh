# Environment for every local process: dummy credentials, a region and the
# emulator endpoint, so the AWS SDK never falls back to the instance-metadata
# address. Source it: `. infra/env.sh`.
export AFORO_EMULATOR_PORT="${AFORO_EMULATOR_PORT:-4599}"
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ENDPOINT_URL="http://127.0.0.1:${AFORO_EMULATOR_PORT}"
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
