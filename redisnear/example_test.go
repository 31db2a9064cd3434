package redisnear_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/rueidis"
	"github.com/shmkv/shmkv/redisnear"
)

// The README's example. It is compiled, not run: it needs a Redis at the
// usual address and opens a table by the name a program would use, which
// a test must not touch. The README test (internal/doccheck, in the main
// module) checks that the README's block is here as it is there.
func Example_readme() {
	ctx := context.Background()
	near, err := redisnear.Open(redisnear.Options{
		Redis:    rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}},
		Table:    "users-near",
		Prefixes: []string{"user:"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer near.Close()
	v, err := near.Get(ctx, nil, "user:42")

	fmt.Println(string(v), err)
}
