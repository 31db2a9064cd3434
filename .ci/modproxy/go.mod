// modproxy is a module of its own so that golang.org/x/mod stays out of
// shmkv's dependencies and out of its workspace (run it with GOWORK=off).
module modproxy

go 1.26.0

require golang.org/x/mod v0.43.0
