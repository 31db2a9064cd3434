#include "textflag.h"

// func loadFence()
TEXT ·loadFence(SB), NOSPLIT|NOFRAME, $0-0
	DMB	$0x9 // ISHLD: prior loads before later loads and stores
	RET

// func storeFence()
TEXT ·storeFence(SB), NOSPLIT|NOFRAME, $0-0
	DMB	$0xa // ISHST: prior stores before later stores
	RET
