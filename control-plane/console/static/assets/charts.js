// @ts-check
// The overview's charts, drawn with Chart.js 4 (served from node_modules by the control plane and
// loaded as the global `Chart`). Each chart has a keyboard-usable legend of buttons beside it that
// does what clicking the chart does, and a text summary as the canvas's accessible name.
import { h, replace } from './dom.js'
import { risks } from './meta.js'
/** @import { ActiveElement, Chart, ChartEvent } from 'chart.js' */
/** @import { Stats } from '../../types/api.js' */

/** Risk colours, shared with the CSS badges (style.css --risk-*). */
/** @type {Record<string, string>} */
export const RISK_COLOR = { critical: '#9f1239', high: '#dc2626', medium: '#d97706', low: '#2563eb' }
/** A risk the console has no colour for (one the control plane added later) is drawn grey. */
const OTHER_RISK_COLOR = '#64748b'
// Source colours keep clear of the risk colours (no red, orange or blue), and belong to the source, not
// to its rank, so a source keeps its colour from one view to the next.
const SOURCE_PALETTE = ['#0f766e', '#6d28d9', '#4d7c0f', '#475569', '#a21caf', '#0e7490', '#854d0e', '#78716c']
/** The sources Leakgate names itself, each with a colour of its own. */
const KNOWN_SOURCE_COLOR = {
  github: '#0f766e', gitlab: '#6d28d9', git: '#4d7c0f', dir: '#475569', manual: '#78716c',
  gist: '#a21caf', paste: '#0e7490', postman: '#854d0e',
}

/**
 * The colour of a source: its own when Leakgate knows it, else one picked by a hash of its name (the same
 * in every view and every session; two unknown sources may share one).
 * @param {string} source
 */
export function sourceColor(source) {
  const known = KNOWN_SOURCE_COLOR[/** @type {keyof typeof KNOWN_SOURCE_COLOR} */ (source)]
  if (known !== undefined) return known
  let hash = 2166136261
  for (let i = 0; i < source.length; i++) hash = Math.imul(hash ^ source.charCodeAt(i), 16777619) >>> 0
  return SOURCE_PALETTE[hash % SOURCE_PALETTE.length] ?? OTHER_RISK_COLOR
}

/** @param {string} risk */
const riskColor = (risk) => RISK_COLOR[risk] ?? OTHER_RISK_COLOR

const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches

/**
 * @param {string} hex
 * @param {boolean} on
 */
function fade(hex, on) {
  return on ? hex : `${hex}40`
}

/** @returns {typeof Chart} */
function ChartLib() {
  const lib = globalThis.Chart
  if (!lib) throw new Error('The chart library did not load (/assets/vendor/chart.umd.js).')
  return lib
}

/**
 * Options every overview chart shares: a click on an element calls `onPick` with its index and dataset.
 * @param {(index: number, datasetIndex: number) => void} onPick
 */
function baseOptions(onPick) {
  /** @type {false | { duration: number }} */
  const animation = reducedMotion() ? false : { duration: 250 }
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation,
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    /**
     * @param {ChartEvent} event
     * @param {ActiveElement[]} elements
     */
    onHover(event, elements) {
      const target = event.native?.target
      if (target instanceof HTMLElement) target.style.cursor = elements.length > 0 ? 'pointer' : 'default'
    },
    /**
     * @param {ChartEvent} event
     * @param {ActiveElement[]} _elements
     * @param {Chart} chart
     */
    onClick(event, _elements, chart) {
      // Map the click to the element under the pointer, then to its label (and dataset).
      if (!event.native) return
      const [hit] = chart.getElementsAtEventForMode(event.native, 'nearest', { intersect: true }, true)
      if (!hit) return
      onPick(hit.index, hit.datasetIndex)
    },
  }
}

/**
 * What was clicked in a chart: a risk, a source, or both (a bar of the risk × source chart).
 * @typedef {{ risk?: string | undefined, source?: string | undefined }} Choice
 */

/**
 * One entry of a chart's legend of buttons.
 * @typedef {object} LegendItem
 * @property {string} value
 * @property {string} label
 * @property {number} count
 * @property {string} color
 * @property {boolean} active
 * @property {() => void} onclick
 */

/**
 * @param {LegendItem[]} items
 * @param {string} testid
 */
function legend(items, testid) {
  return h(
    'ul',
    { class: 'legend', 'data-testid': testid },
    items.map((it) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'legend-item',
            'aria-pressed': String(it.active),
            'data-value': it.value,
            onclick: it.onclick,
          },
          h('span', { class: 'swatch', 'data-color': it.color, 'aria-hidden': 'true' }),
          h('span', { class: 'legend-label' }, it.label),
          h('span', { class: 'legend-count' }, String(it.count)),
        ),
      ),
    ),
  )
}

/**
 * Swatch colours are set through the CSSOM (allowed under the CSP), not a style attribute.
 * @param {Element} list
 */
function paintSwatches(list) {
  for (const s of list.querySelectorAll('.swatch')) {
    if (s instanceof HTMLElement) s.style.background = s.dataset.color ?? ''
  }
}

/** @param {string} text */
function emptyNote(text) {
  return h('p', { class: 'chart-empty muted' }, text)
}

/**
 * Draws the three overview charts into `container` from a /v1/stats answer.
 * `pick({ risk?, source? })` is called when a chart element or legend entry is chosen.
 * @param {HTMLElement} container
 * @param {Stats} stats
 * @param {(choice: Choice) => void} pick
 * @returns {{ setActive(filters: Choice): void, destroy(): void }}
 */
export function drawCharts(container, stats, pick) {
  const Chart = ChartLib()
  const RISKS = risks()
  /** @type {Chart[]} */
  const charts = []
  const byRisk = stats.byRisk ?? {}
  const bySource = stats.bySource ?? {}
  const sources = Object.entries(bySource)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([s]) => s)
  /** @param {string} r */
  const riskCount = (r) => byRisk[r] ?? 0
  /** @param {string} s */
  const sourceCount = (s) => bySource[s] ?? 0

  const riskCanvas = h('canvas', { 'data-testid': 'chart-risk', role: 'img' })
  const riskLegendBox = h('div')
  const sourceCanvas = h('canvas', { 'data-testid': 'chart-source', role: 'img' })
  const sourceLegendBox = h('div')
  const matrixCanvas = h('canvas', { 'data-testid': 'chart-risk-source', role: 'img' })

  riskCanvas.setAttribute('aria-label', `Open leaks by risk: ${RISKS.map((r) => `${r} ${riskCount(r)}`).join(', ')}. Use the buttons below to filter.`)
  sourceCanvas.setAttribute('aria-label', `Open leaks by source: ${sources.map((s) => `${s} ${sourceCount(s)}`).join(', ') || 'none'}. Use the buttons below to filter.`)
  matrixCanvas.setAttribute('aria-label', `Open leaks by risk and source: ${sources.map((s) => `${s}: ${RISKS.map((r) => `${r} ${stats.riskBySource?.[s]?.[r] ?? 0}`).join(', ')}`).join('; ') || 'none'}.`)

  const total = stats.total ?? 0
  replace(
    container,
    h(
      'figure',
      { class: 'card chart-card' },
      h('figcaption', {}, 'Open leaks by risk'),
      h('div', { class: 'chart-box chart-box-doughnut' }, total > 0 ? riskCanvas : emptyNote('No open leaks.')),
      riskLegendBox,
    ),
    h(
      'figure',
      { class: 'card chart-card' },
      h('figcaption', {}, 'Open leaks by source'),
      h('div', { class: 'chart-box' }, sources.length > 0 ? sourceCanvas : emptyNote('No open leaks.')),
      sourceLegendBox,
    ),
    h(
      'figure',
      { class: 'card chart-card chart-card-wide' },
      h('figcaption', {}, 'Risk by source'),
      h('div', { class: 'chart-box' }, sources.length > 0 ? matrixCanvas : emptyNote('No open leaks.')),
    ),
  )

  /** @type {Chart<'doughnut'> | null} */
  let riskChart = null
  /** @type {Chart<'bar'> | null} */
  let sourceChart = null
  if (total > 0) {
    riskChart = new Chart(riskCanvas, {
      type: 'doughnut',
      data: {
        labels: RISKS,
        datasets: [{ data: RISKS.map(riskCount), backgroundColor: RISKS.map(riskColor), borderWidth: 2 }],
      },
      options: { ...baseOptions((i) => pick({ risk: RISKS[i] })), cutout: '58%' },
    })
    charts.push(riskChart)
  }
  if (sources.length > 0) {
    sourceChart = new Chart(sourceCanvas, {
      type: 'bar',
      data: {
        labels: sources,
        datasets: [{ label: 'Open leaks', data: sources.map(sourceCount), backgroundColor: sources.map(sourceColor), borderRadius: 4, maxBarThickness: 28 }],
      },
      options: {
        ...baseOptions((i) => pick({ source: sources[i] })),
        indexAxis: 'y',
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
      },
    })
    const matrixChart = new Chart(matrixCanvas, {
      type: 'bar',
      data: {
        labels: sources,
        datasets: RISKS.map((r) => ({
          label: r,
          data: sources.map((s) => stats.riskBySource?.[s]?.[r] ?? 0),
          backgroundColor: riskColor(r),
          borderRadius: 2,
          maxBarThickness: 72,
        })),
      },
      options: {
        ...baseOptions((i, d) => pick({ source: sources[i], risk: RISKS[d] })),
        // The legend names the colours only: clicking it does nothing (the page's filters are elsewhere).
        plugins: { legend: { display: true, position: 'bottom', onClick() {} }, tooltip: { enabled: true } },
        scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    })
    charts.push(sourceChart, matrixChart)
  }

  /**
   * The legend of one chart: a button a value, which filters the list by it.
   * @param {'risk' | 'source'} key
   * @param {readonly string[]} values
   * @param {(value: string) => number} count
   * @param {(value: string, i: number) => string} color
   * @param {string | undefined} active
   */
  function legendOf(key, values, count, color, active) {
    const items = values.map((v, i) => ({ value: v, label: v, count: count(v), color: color(v, i), active: active === v, onclick: () => pick({ [key]: v }) }))
    return legend(items, `legend-${key}`)
  }

  /** @param {Choice} filters */
  function setActive(filters) {
    const risk = filters.risk
    const source = filters.source
    replace(riskLegendBox, legendOf('risk', RISKS, riskCount, riskColor, risk))
    replace(sourceLegendBox, legendOf('source', sources, sourceCount, sourceColor, source))
    paintSwatches(riskLegendBox)
    paintSwatches(sourceLegendBox)
    // Dim what the list is not showing, so the chart says which slice is selected.
    const riskData = riskChart?.data.datasets[0]
    if (riskChart && riskData) {
      riskData.backgroundColor = RISKS.map((r) => fade(riskColor(r), !risk || risk === r))
      riskChart.update('none')
    }
    const sourceData = sourceChart?.data.datasets[0]
    if (sourceChart && sourceData) {
      sourceData.backgroundColor = sources.map((s) => fade(sourceColor(s), !source || source === s))
      sourceChart.update('none')
    }
  }

  return {
    setActive,
    destroy() {
      for (const c of charts) c.destroy()
    },
  }
}
