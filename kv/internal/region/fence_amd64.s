#include "textflag.h"

// func LoadFence()
TEXT ·LoadFence(SB), NOSPLIT|NOFRAME, $0-0
	RET

// func StoreFence()
TEXT ·StoreFence(SB), NOSPLIT|NOFRAME, $0-0
	SFENCE
	RET
