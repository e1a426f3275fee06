/** Stack traces as containers write them, one array element per line (no newlines). */

export const JAVA_TRACE: readonly string[] = [
  'Exception in thread "main" java.lang.IllegalStateException: order 42 has no items',
  '\tat com.example.shop.Cart.checkout(Cart.java:88)',
  '\tat com.example.shop.Main.main(Main.java:17)',
  'Caused by: java.lang.NullPointerException: items',
  '\tat com.example.shop.Cart.total(Cart.java:40)',
  '\tat com.example.shop.Cart.checkout(Cart.java:85)',
  '\t... 5 more',
];

export const PYTHON_TRACE: readonly string[] = [
  'Traceback (most recent call last):',
  '  File "/app/main.py", line 12, in <module>',
  '    main()',
  '  File "/app/main.py", line 9, in main',
  '    raise ValueError("x")',
  'ValueError: x',
];

export const GO_TRACE: readonly string[] = [
  'panic: runtime error: index out of range [3] with length 3',
  '',
  'goroutine 1 [running]:',
  'main.lookup(...)',
  '\t/app/main.go:12',
  'main.main()',
  '\t/app/main.go:7 +0x1d',
  '',
  'goroutine 6 [chan receive]:',
  'github.com/example/shop.(*Worker).run(0xc000010000)',
  '\t/app/worker.go:30 +0x45',
  'created by main.main in goroutine 1',
  '\t/app/main.go:5 +0x2a',
];

/** Lines that are none of the above: each stays an event of its own. */
export const PLAIN_LINES: readonly string[] = ['GET /cart 200 3ms', 'GET /health 200 0ms', 'checkout started for order 42'];
