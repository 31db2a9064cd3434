#include "textflag.h"

// func LoadFence()
TEXT ·LoadFence(SB), NOSPLIT|NOFRAME, $0-0
	DMB	$0x9 // ISHLD: prior loads before later loads and stores
	RET

// func StoreFence()
TEXT ·StoreFence(SB), NOSPLIT|NOFRAME, $0-0
	DMB	$0xa // ISHST: prior stores before later stores
	RET
