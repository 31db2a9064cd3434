#include "textflag.h"

// Loads are not reordered with loads, nor stores with stores, on amd64:
// the calls only stop the compiler (fence.go).

// func loadFence()
TEXT ·loadFence(SB), NOSPLIT|NOFRAME, $0-0
	RET

// func storeFence()
TEXT ·storeFence(SB), NOSPLIT|NOFRAME, $0-0
	RET
