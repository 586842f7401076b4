// require('vault'): `get(name)` resolves to the function's secret `name`
// (`edgefn deploy --secret`), or else its configuration value `name`
// (`--set`), and rejects when it has neither.
module.exports = {
  get: (name) => new Promise((resolve, reject) => {
    const value = native.secret(String(name));
    if (value != null) return resolve(value);
    const setting = native.config(String(name));
    if (setting != null) return resolve(setting);
    reject(new Error(`vault: no secret or setting called '${name}'`));
  }),
};
