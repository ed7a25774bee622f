import t from 'tap'
import { csvCell, csvLine } from './csv.js'

t.test('cells a spreadsheet would run as formulas are text', async (t) => {
  for (const lead of ['=', '+', '-', '@', '\t', '\r']) {
    t.equal(csvCell(`${lead}1+1`).replace(/^"/, '').charAt(0), "'", `a cell starting with ${JSON.stringify(lead)} starts with an apostrophe`)
  }
  t.equal(csvCell('=HYPERLINK("http://x.example","a")'), '"\'=HYPERLINK(""http://x.example"",""a"")"')
  t.equal(csvCell('plain title'), 'plain title')
  t.equal(csvCell('a, b'), '"a, b"')
  t.equal(csvCell('two\nlines'), '"two\nlines"')
  t.equal(csvCell(-3), '-3', 'a number is written as the number')
  t.equal(csvCell(null), '')
  t.equal(csvLine(['a', 1, null]), 'a,1,\r\n')
})
