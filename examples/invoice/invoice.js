// The invoice document: reads the job's payload and the deploy's env, fills the page, then tells Press Cloud it
// is ready to print (the page opts into manual readiness with <html data-press-wait="manual">).
(async () => {
  const invoice = await pressCloud.payload();
  const env = await pressCloud.env.all();
  const currency = invoice.currency || env.CURRENCY || 'EUR';
  const money = new Intl.NumberFormat('en', { style: 'currency', currency });
  const $ = (id) => document.getElementById(id);

  $('company').textContent = env.COMPANY_NAME || 'Example Company';
  $('company-address').textContent = env.COMPANY_ADDRESS || '';
  $('number').textContent = invoice.number;
  $('issued').textContent = invoice.issuedOn;
  $('due').textContent = invoice.dueOn;
  $('customer').textContent = [invoice.customer.name, invoice.customer.address].filter(Boolean).join('\n');

  let subtotal = 0;
  const rows = invoice.lines.map((line) => {
    const amount = line.quantity * line.unitPrice;
    subtotal += amount;
    const tr = document.createElement('tr');
    for (const [text, cls] of [[line.description, ''], [line.quantity, 'num'], [money.format(line.unitPrice), 'num'], [money.format(amount), 'num']]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  });
  $('lines').append(...rows);
  const taxRate = invoice.taxRate ?? 0.2;
  $('subtotal').textContent = money.format(subtotal);
  $('tax-rate').textContent = `${Math.round(taxRate * 100)} %`;
  $('tax').textContent = money.format(subtotal * taxRate);
  $('total').textContent = money.format(subtotal * (1 + taxRate));
  $('footer').textContent = env.FOOTER || `Thank you for your business. Please pay ${invoice.number} by ${invoice.dueOn}.`;

  await document.fonts.ready;
  pressCloud.ready();
})();
