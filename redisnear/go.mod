module github.com/shmkv/shmkv/redisnear

go 1.26.0

require (
	github.com/redis/rueidis v1.0.79
	github.com/shmkv/shmkv v0.1.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
