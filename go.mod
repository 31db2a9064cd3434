module github.com/shmkv/shmkv

go 1.26.0

require golang.org/x/sys v0.50.0

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/spf13/pflag v1.1.0
)
