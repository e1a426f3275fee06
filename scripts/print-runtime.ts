// Printed once at the top of `npm test`, so CI logs show which Node actually ran the suite.
console.log(`runtime: node ${process.version} (${process.execPath})`);
