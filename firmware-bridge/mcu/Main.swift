// Firmware entry point for the STM32F405 (qemu netduinoplus2; the same code runs on real STM32F4
// boards once the clock tree below is set up by `Board.start`). Polling main loop, no allocation:
// host link on USART1, Feetech servo bus on USART2 (goal writes, Present_Position reads), TIM2 time base.
import BridgeFirmware
import BridgeProtocol
import _Volatile

struct Register {
    let r: VolatileMappedRegister<UInt32>
    init(_ address: UInt) { r = VolatileMappedRegister<UInt32>(unsafeBitPattern: address) }
    @inline(__always) func load() -> UInt32 { r.load() }
    @inline(__always) func store(_ v: UInt32) { r.store(v) }
    @inline(__always) func set(_ bits: UInt32) { r.store(r.load() | bits) }
    @inline(__always) func modify(clear: UInt32, set bits: UInt32) { r.store((r.load() & ~clear) | bits) }
}

/// An STM32F4 USART (SR, DR, BRR, CR1, CR3), polled.
struct USART {
    let sr: Register, dr: Register, brr: Register, cr1: Register, cr3: Register

    init(base: UInt) {
        sr = Register(base + 0x00); dr = Register(base + 0x04); brr = Register(base + 0x08)
        cr1 = Register(base + 0x0C); cr3 = Register(base + 0x14)
    }

    /// 8N1, oversampling by 16, transmitter and receiver on.
    func start(peripheralClockHz: UInt32, baud: UInt32, halfDuplex: Bool) {
        brr.store((peripheralClockHz + baud / 2) / baud)
        if halfDuplex { cr3.set(1 << 3) }  // HDSEL: single-wire bus, as the STS servos use
        cr1.store((1 << 13) | (1 << 3) | (1 << 2))  // UE, TE, RE
    }

    @inline(__always) var rxReady: Bool { sr.load() & (1 << 5) != 0 }  // RXNE
    @inline(__always) var txReady: Bool { sr.load() & (1 << 7) != 0 }  // TXE
    @inline(__always) func read() -> UInt8 { UInt8(truncatingIfNeeded: dr.load()) }
    @inline(__always) func write(_ b: UInt8) { dr.store(UInt32(b)) }
}

enum Board {
    /// The clock tree Board assumes: 168 MHz core (what qemu's netduinoplus2 models), APB2 84 MHz,
    /// APB1 42 MHz. A real board must program the PLL for this before calling `start` (TODO when
    /// moving to hardware: RCC_PLLCFGR/CFGR, flash wait states).
    static let coreClockHz: UInt32 = 168_000_000
    static let apb2ClockHz: UInt32 = 84_000_000
    static let apb1ClockHz: UInt32 = 42_000_000
    static let baud: UInt32 = 1_000_000

    static let host = USART(base: 0x4001_1000)   // USART1: PA9 TX, PA10 RX (AF7)
    static let servo = USART(base: 0x4000_4400)  // USART2: PA2 TX (half duplex, AF7)

    static func start() {
        let rcc: UInt = 0x4002_3800
        Register(rcc + 0x30).set(1 << 0)   // AHB1ENR: GPIOA
        Register(rcc + 0x40).set(1 << 17)  // APB1ENR: USART2
        Register(rcc + 0x44).set(1 << 4)   // APB2ENR: USART1
        let gpioa: UInt = 0x4002_0000
        // PA2, PA3, PA9, PA10 → alternate function 7.
        Register(gpioa + 0x00).modify(clear: (3 << 4) | (3 << 6) | (3 << 18) | (3 << 20),
                                      set: (2 << 4) | (2 << 6) | (2 << 18) | (2 << 20))
        Register(gpioa + 0x20).modify(clear: (0xF << 8) | (0xF << 12), set: (7 << 8) | (7 << 12))
        Register(gpioa + 0x24).modify(clear: (0xF << 4) | (0xF << 8), set: (7 << 4) | (7 << 8))
        host.start(peripheralClockHz: apb2ClockHz, baud: baud, halfDuplex: false)
        servo.start(peripheralClockHz: apb1ClockHz, baud: baud, halfDuplex: true)
        Clock.start()
    }
}

/// Milliseconds since boot from TIM2, a free-running 32-bit counter at 20 kHz. Time is read from
/// the counter, not counted in an interrupt, so it cannot lose ticks when the CPU (or qemu's vCPU
/// thread on a loaded host) is late; a SysTick interrupt counter ran ~40% slow under qemu on a busy
/// 2-core machine.
struct Clock {
    static let ticksPerMs: UInt32 = 20
    #if QEMU
    /// qemu's STM32 timer model counts at 1 GHz before the prescaler: 1 GHz / 50 000 = 20 kHz.
    static let prescaler: UInt32 = 49_999
    #else
    /// TIM2 runs at 2 × APB1 = 84 MHz: 84 MHz / 4200 = 20 kHz.
    static let prescaler: UInt32 = 4_199
    #endif
    static let base: UInt = 0x4000_0000  // TIM2

    static func start() {
        Register(0x4002_3800 + 0x40).set(1 << 0)  // RCC APB1ENR: TIM2
        Register(base + 0x2C).store(0xFFFF_FFFF)  // ARR: free running, 32 bits
        Register(base + 0x28).store(prescaler)    // PSC
        Register(base + 0x14).store(1)            // EGR.UG: load the prescaler, clear the counter
        Register(base + 0x00).store(1)            // CR1.CEN
    }

    var last: UInt32 = 0
    var remainder: UInt32 = 0
    var ms: UInt32 = 0

    init() { last = Register(Clock.base + 0x24).load() }

    /// Milliseconds since `init`, wrapping at 2^32.
    mutating func now() -> UInt32 {
        let count = Register(Clock.base + 0x24).load()  // CNT
        remainder &+= count &- last
        last = count
        ms &+= remainder / Clock.ticksPerMs
        remainder %= Clock.ticksPerMs
        return ms
    }
}

/// Sends a buffer out of a USART one byte per call when the transmitter is free, so receiving never
/// waits on transmitting.
struct Drain {
    var next = 0
    mutating func step<let n: Int>(_ buffer: inout ByteBuffer<n>, _ port: USART) {
        if next < buffer.count {
            if port.txReady { port.write(buffer[next]); next += 1 }
        }
        if next >= buffer.count && !buffer.isEmpty { buffer.removeAll(); next = 0 }
    }
}

@main
struct Firmware {
    static func main() {
        Board.start()
        var clock = Clock()
        var controller = Controller(now: clock.now())
        var hostDrain = Drain()
        var servoDrain = Drain()
        while true {
            let now = clock.now()
            var budget = 64  // bytes per pass, so ticks and output keep flowing under a flood
            while budget > 0 && Board.host.rxReady {
                controller.receive(Board.host.read(), now: now)
                budget -= 1
            }
            // Servo replies (Present_Position reads). A real bus at 1 Mbaud delivers a byte every 10 µs;
            // a pass of this loop is far shorter, and the budget keeps a babbling bus from starving it.
            var servoBudget = 64
            while servoBudget > 0 && Board.servo.rxReady {
                controller.receiveServo(Board.servo.read(), now: now)
                servoBudget -= 1
            }
            controller.tick(now: now)
            hostDrain.step(&controller.hostOut, Board.host)
            servoDrain.step(&controller.servoOut, Board.servo)
        }
    }
}
